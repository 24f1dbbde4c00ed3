"""The makemore model: configuration, initialisation, BatchNorm calibration and inference."""

import math

import numpy as np
import pytest

from ninjagrad.errors import UserError
from ninjagrad.makemore.atomic import forward_atomic
from ninjagrad.makemore.model import (
    PARAM_NAMES,
    ModelConfig,
    calibrate_batchnorm,
    inference_logits,
    init_params,
    num_parameters,
    split_loss,
)


def random_examples(rng, config, count):
    X = rng.integers(0, config.vocab_size, (count, config.block_size))
    Y = rng.integers(0, config.vocab_size, count)
    return X, Y


def test_parameter_counts_match_the_lecture():
    # DESIGN §2: 12,297 parameters at the training config, 4,137 with 64 hidden units.
    assert num_parameters(init_params(ModelConfig(), np.random.default_rng(0))) == 12_297
    assert num_parameters(init_params(ModelConfig(n_hidden=64), np.random.default_rng(0))) == 4_137


def test_init_shapes_dtype_and_order():
    config = ModelConfig(n_hidden=64)
    params = init_params(config, np.random.default_rng(0))
    assert tuple(params) == PARAM_NAMES
    expected = {
        "C": (27, 10),
        "W1": (30, 64),
        "b1": (64,),
        "W2": (64, 27),
        "b2": (27,),
        "bngain": (1, 64),
        "bnbias": (1, 64),
    }
    assert {name: p.shape for name, p in params.items()} == expected
    assert all(p.dtype == np.float32 for p in params.values())


def test_init_has_no_zeros_and_is_reproducible():
    a = init_params(ModelConfig(), np.random.default_rng(7))
    b = init_params(ModelConfig(), np.random.default_rng(7))
    c = init_params(ModelConfig(), np.random.default_rng(8))
    for name in PARAM_NAMES:
        assert np.count_nonzero(a[name]) == a[name].size, f"{name} has a zero: it could hide a wrong gradient"
        assert np.array_equal(a[name], b[name])
        assert not np.array_equal(a[name], c[name])


def test_init_scales_follow_the_lecture():
    # A wide layer so the sample statistics are tight: W1 ~ N(0, 1) * (5/3) / sqrt(30) and so on.
    config = ModelConfig(n_hidden=2000)
    params = init_params(config, np.random.default_rng(0))
    assert params["W1"].std() == pytest.approx((5 / 3) / math.sqrt(30), rel=0.02)
    assert params["C"].std() == pytest.approx(1.0, rel=0.05)
    assert params["b1"].std() == pytest.approx(0.1, rel=0.05)
    assert params["W2"].std() == pytest.approx(0.1, rel=0.02)
    assert params["bngain"].mean() == pytest.approx(1.0, abs=0.01)
    assert params["bngain"].std() == pytest.approx(0.1, rel=0.05)
    assert params["bnbias"].mean() == pytest.approx(0.0, abs=0.01)
    assert params["bnbias"].std() == pytest.approx(0.1, rel=0.05)


def test_initial_loss_is_near_uniform():
    # Small W2 and b2 make the first predictions nearly uniform: loss near ln 27 = 3.2958 (lecture: ~3.3-3.8).
    config = ModelConfig()
    rng = np.random.default_rng(0)
    params = init_params(config, rng)
    X, Y = random_examples(rng, config, 4096)
    loss = float(forward_atomic(params, X, Y)["loss"])
    assert math.log(27) - 0.2 < loss < 4.0


@pytest.mark.parametrize(
    "field, value",
    [
        ("vocab_size", 1),
        ("block_size", 0),
        ("n_embd", -3),
        ("n_hidden", 2.5),
        ("n_hidden", True),
        ("bn_eps", 0.0),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(UserError, match=field):
        ModelConfig(**{field: value})


def test_calibration_is_the_unbiased_variance_over_all_rows():
    config = ModelConfig(n_hidden=64)
    rng = np.random.default_rng(1)
    params = init_params(config, rng)
    X, _ = random_examples(rng, config, 1000)
    # Independent reference: the pre-BatchNorm activations in float64, NumPy's mean and var(ddof=1).
    p64 = {name: p.astype(np.float64) for name, p in params.items()}
    hprebn = p64["C"][X].reshape(len(X), -1) @ p64["W1"] + p64["b1"]
    bnmean, bnvar = calibrate_batchnorm(params, X, chunk_size=128)
    assert bnmean.shape == bnvar.shape == (1, 64)
    assert bnmean.dtype == bnvar.dtype == np.float32
    np.testing.assert_allclose(bnmean, hprebn.mean(0, keepdims=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bnvar, hprebn.var(0, ddof=1, keepdims=True), rtol=1e-5)
    assert not np.allclose(bnvar, hprebn.var(0, ddof=0, keepdims=True), rtol=1e-5), "must be n - 1, not n"


def test_calibration_does_not_depend_on_the_chunk_size():
    config = ModelConfig(n_hidden=64)
    rng = np.random.default_rng(2)
    params = init_params(config, rng)
    X, _ = random_examples(rng, config, 1001)
    whole = calibrate_batchnorm(params, X, chunk_size=100_000)
    pieces = calibrate_batchnorm(params, X, chunk_size=7)
    for a, b in zip(whole, pieces, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_inference_with_the_batch_statistics_reproduces_the_training_forward():
    # With BatchNorm fixed to the batch's own statistics, inference is the training forward pass exactly.
    config = ModelConfig(n_hidden=64)
    rng = np.random.default_rng(3)
    params = init_params(config, rng)
    X, Y = random_examples(rng, config, 32)
    forward = forward_atomic(params, X, Y)
    bnmean, bnvar = calibrate_batchnorm(params, X)
    logits = inference_logits(params, bnmean, bnvar, X, chunk_size=5)
    assert logits.shape == (32, 27) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, forward["logits"], rtol=1e-4, atol=1e-5)
    assert split_loss(params, bnmean, bnvar, X, Y, chunk_size=5) == pytest.approx(
        float(forward["loss"]), rel=1e-5
    )


def test_split_loss_matches_pytorch_cross_entropy():
    torch = pytest.importorskip("torch")
    config = ModelConfig(n_hidden=64)
    rng = np.random.default_rng(4)
    params = init_params(config, rng)
    X, Y = random_examples(rng, config, 3000)
    bnmean, bnvar = calibrate_batchnorm(params, X)
    logits = inference_logits(params, bnmean, bnvar, X)
    expected = torch.nn.functional.cross_entropy(
        torch.tensor(logits, dtype=torch.float64), torch.tensor(Y)
    ).item()
    assert split_loss(params, bnmean, bnvar, X, Y, chunk_size=1000) == pytest.approx(expected, rel=1e-6)


def test_split_loss_is_finite_for_huge_logits():
    config = ModelConfig(n_hidden=64)
    rng = np.random.default_rng(5)
    params = init_params(config, rng)
    params["W2"] *= 1e4  # logits in the thousands: a naive exp overflows
    X, Y = random_examples(rng, config, 64)
    bnmean, bnvar = calibrate_batchnorm(params, X)
    assert np.isfinite(split_loss(params, bnmean, bnvar, X, Y))


def test_bad_contexts_are_user_errors():
    config = ModelConfig(n_hidden=64)
    rng = np.random.default_rng(6)
    params = init_params(config, rng)
    X, Y = random_examples(rng, config, 10)
    bnmean, bnvar = calibrate_batchnorm(params, X)
    with pytest.raises(UserError, match=r"\(10, 4\).*\(rows, 3\)"):
        inference_logits(params, bnmean, bnvar, np.zeros((10, 4), dtype=np.int64))
    with pytest.raises(UserError, match=r"\[0, 27\).*27"):
        inference_logits(params, bnmean, bnvar, np.full((2, 3), 27))
    with pytest.raises(UserError, match="integer"):
        inference_logits(params, bnmean, bnvar, X.astype(np.float32))
    with pytest.raises(UserError, match="targets shape"):
        split_loss(params, bnmean, bnvar, X, Y[:-1])
    with pytest.raises(UserError, match="at least 2"):
        calibrate_batchnorm(params, X[:1])
