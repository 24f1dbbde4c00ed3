"""The makemore lectures (parts 1, 2, 3 and 5), ported to ninjagrad by changing only the imports.

Each lecture's code is written once below, in the lecture's own idiom, inside a function whose arguments are
the two imports (``torch`` and ``F``): the tests pass ``ninjagrad`` and ``ninjagrad.functional``. The same
functions run unchanged on PyTorch (``test_the_ports_are_pytorch_code``), which shows that the text is the
lecture's torch code and not something bent to fit ninjagrad.

The checks are the lectures' facts, judged loosely: the streams of random numbers differ from PyTorch's
(NumPy's generator), so a loss is compared with the range the lecture's runs fall in, never to the digit,
and each bound holds for several seeds on both engines.
"""

# The lectures' own idiom: zip without strict=, loop variables left unused.
# ruff: noqa: B905, B007

from __future__ import annotations

import math
import random
from importlib import resources

import pytest

import ninjagrad
import ninjagrad.functional as ninja_F

LN27 = math.log(27)  # the loss of a uniform guess over 27 characters: 3.2958


def bundled_words() -> list[str]:
    return (resources.files("ninjagrad") / "data" / "names.txt").read_text().splitlines()


# ---- part 1: bigrams, counted and learned ------------------------------------------------------------------


def part1_counts(torch, F, words):
    N = torch.zeros((27, 27), dtype=torch.int32)
    chars = sorted(list(set("".join(words))))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    itos = {i: s for s, i in stoi.items()}
    for w in words:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            ix1 = stoi[ch1]
            ix2 = stoi[ch2]
            N[ix1, ix2] += 1

    P = (N + 1).float()
    P /= P.sum(1, keepdims=True)

    g = torch.Generator().manual_seed(2147483647)
    names = []
    for i in range(5):
        out = []
        ix = 0
        while True:
            p = P[ix]
            ix = torch.multinomial(p, num_samples=1, replacement=True, generator=g).item()
            out.append(itos[ix])
            if ix == 0:
                break
        names.append("".join(out))

    log_likelihood = 0.0
    n = 0
    for w in words:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            ix1 = stoi[ch1]
            ix2 = stoi[ch2]
            prob = P[ix1, ix2]
            logprob = torch.log(prob)
            log_likelihood += logprob
            n += 1
    nll = -log_likelihood
    return N, P, names, (nll / n).item()


def part1_network(torch, F, words, steps):
    chars = sorted(list(set("".join(words))))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    xs, ys = [], []
    for w in words:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            ix1 = stoi[ch1]
            ix2 = stoi[ch2]
            xs.append(ix1)
            ys.append(ix2)
    xs = torch.tensor(xs)
    ys = torch.tensor(ys)
    num = xs.nelement()

    g = torch.Generator().manual_seed(2147483647)
    W = torch.randn((27, 27), generator=g, requires_grad=True)

    losses = []
    for k in range(steps):
        # forward pass
        xenc = F.one_hot(xs, num_classes=27).float()  # input to the network: one-hot encoding
        logits = xenc @ W  # predict log-counts
        counts = logits.exp()  # counts, equivalent to N
        probs = counts / counts.sum(1, keepdims=True)  # probabilities for next character
        loss = -probs[torch.arange(num), ys].log().mean() + 0.01 * (W**2).mean()
        losses.append(loss.item())

        # backward pass
        W.grad = None  # set to zero the gradient
        loss.backward()

        # update
        W.data += -50 * W.grad
    return losses


def test_part1_bigram_counts_give_the_lectures_loss_and_sample_names():
    words = bundled_words()
    N, P, names, nll = part1_counts(ninjagrad, ninja_F, words)
    assert N.dtype == ninjagrad.int32 and P.dtype == ninjagrad.float32
    assert N.sum().item() == sum(len(w) + 1 for w in words)  # one count per bigram (228,146)
    assert N[0, 1].item() == sum(w.startswith("a") for w in words)  # '.a': the names starting with a
    assert abs(nll - 2.4544) < 2e-3  # the lecture's average negative log-likelihood
    assert all(name.endswith(".") and set(name) <= set("abcdefghijklmnopqrstuvwxyz.") for name in names)


def test_part1_the_bigram_network_learns_towards_the_counts_loss():
    losses = part1_network(ninjagrad, ninja_F, bundled_words(), steps=15)
    assert 3.5 < losses[0] < 4.2  # random W: the lecture starts at about 3.77
    assert all(b < a for a, b in zip(losses, losses[1:]))  # full batch, lr 50: it falls every step
    assert losses[-1] < 2.7  # heading for the counts model's 2.45 (~2.6 after 15 steps on both engines)


# ---- part 2: the MLP of Bengio et al. 2003 ---------------------------------------------------------------


def build_vocabulary(words):
    chars = sorted(list(set("".join(words))))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    itos = {i: s for s, i in stoi.items()}
    return stoi, itos


def split_words(words):
    words = list(words)
    random.seed(42)
    random.shuffle(words)
    n1 = int(0.8 * len(words))
    n2 = int(0.9 * len(words))
    return words[:n1], words[n1:n2], words[n2:]


def build_dataset(torch, words, stoi, block_size):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]  # crop and append
    X = torch.tensor(X)
    Y = torch.tensor(Y)
    return X, Y


def part2(torch, F, words, steps):
    stoi, itos = build_vocabulary(words)
    train_words, dev_words, _ = split_words(words)
    block_size = 3
    Xtr, Ytr = build_dataset(torch, train_words, stoi, block_size)
    Xdev, Ydev = build_dataset(torch, dev_words, stoi, block_size)

    g = torch.Generator().manual_seed(2147483647)  # for reproducibility
    C = torch.randn((27, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g)
    b1 = torch.randn(200, generator=g)
    W2 = torch.randn((200, 27), generator=g)
    b2 = torch.randn(27, generator=g)
    parameters = [C, W1, b1, W2, b2]
    n_parameters = sum(p.nelement() for p in parameters)
    for p in parameters:
        p.requires_grad = True

    lre = torch.linspace(-3, 0, 1000)
    lrs = 10**lre

    lossi = []
    for i in range(steps):
        # minibatch construct
        ix = torch.randint(0, Xtr.shape[0], (32,), generator=g)

        # forward pass
        emb = C[Xtr[ix]]  # (32, 3, 10)
        h = torch.tanh(emb.view(-1, 30) @ W1 + b1)  # (32, 200)
        logits = h @ W2 + b2  # (32, 27)
        loss = F.cross_entropy(logits, Ytr[ix])

        # backward pass
        for p in parameters:
            p.grad = None
        loss.backward()

        # update
        lr = 0.1 if i < 100000 else 0.01
        for p in parameters:
            p.data += -lr * p.grad

        lossi.append(loss.log10().item())

    def split_loss(X, Y):
        emb = C[X]  # (N, 3, 10)
        h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
        logits = h @ W2 + b2
        return F.cross_entropy(logits, Y).item()

    # the lecture's other spelling of the concatenation: unbind the 3 characters and cat them again
    emb = C[Xdev[:5]]
    same = (torch.cat(torch.unbind(emb, 1), 1) == emb.view(5, 30)).all().item()

    # sample from the model
    g = torch.Generator().manual_seed(2147483647 + 10)
    names = []
    for _ in range(5):
        out = []
        context = [0] * block_size  # initialize with all ...
        while True:
            emb = C[torch.tensor([context])]  # (1, block_size, d)
            h = torch.tanh(emb.view(1, -1) @ W1 + b1)
            logits = h @ W2 + b2
            probs = F.softmax(logits, dim=1)
            ix = torch.multinomial(probs, num_samples=1, generator=g).item()
            context = context[1:] + [ix]
            out.append(ix)
            if ix == 0:
                break
        names.append("".join(itos[i] for i in out))

    return {
        "shapes": (tuple(Xtr.shape), tuple(Xdev.shape)),
        "n_parameters": n_parameters,
        "lrs": (lrs[0].item(), lrs[-1].item()),
        "lossi": lossi,
        "train": split_loss(Xtr, Ytr),
        "dev": split_loss(Xdev, Ydev),
        "unbind_cat_is_view": same,
        "names": names,
    }


def test_part2_the_mlp_trains_from_its_large_initial_loss():
    result = part2(ninjagrad, ninja_F, bundled_words(), steps=800)
    assert result["shapes"] == ((182625, 3), (22655, 3))  # the split of the lecture
    assert result["n_parameters"] == 11897
    assert result["lrs"] == pytest.approx((1e-3, 1.0), rel=1e-6)
    assert result["unbind_cat_is_view"]
    first = 10 ** (sum(result["lossi"][:10]) / 10)
    assert first > 8  # unscaled weights: confidently wrong at the start (the lecture's first loss is ~17)
    assert result["train"] < 5 and result["dev"] < 5  # and falling fast (~4 after 800 steps on both engines)
    assert abs(result["train"] - result["dev"]) < 0.15  # 11,897 parameters do not overfit 182,625 examples
    assert all(name.endswith(".") for name in result["names"])


# ---- part 3: activations, gradients and BatchNorm -------------------------------------------------------


def part3(torch, F, words, steps):
    stoi, itos = build_vocabulary(words)
    train_words, dev_words, _ = split_words(words)
    block_size = 3
    Xtr, Ytr = build_dataset(torch, train_words, stoi, block_size)
    Xdev, Ydev = build_dataset(torch, dev_words, stoi, block_size)
    vocab_size = 27

    class Linear:
        def __init__(self, fan_in, fan_out, bias=True):
            self.weight = torch.randn((fan_in, fan_out), generator=g) / fan_in**0.5
            self.bias = torch.zeros(fan_out) if bias else None

        def __call__(self, x):
            self.out = x @ self.weight
            if self.bias is not None:
                self.out += self.bias
            return self.out

        def parameters(self):
            return [self.weight] + ([] if self.bias is None else [self.bias])

    class BatchNorm1d:
        def __init__(self, dim, eps=1e-5, momentum=0.1):
            self.eps = eps
            self.momentum = momentum
            self.training = True
            # parameters (trained with backprop)
            self.gamma = torch.ones(dim)
            self.beta = torch.zeros(dim)
            # buffers (trained with a running 'momentum update')
            self.running_mean = torch.zeros(dim)
            self.running_var = torch.ones(dim)

        def __call__(self, x):
            # calculate the forward pass
            if self.training:
                xmean = x.mean(0, keepdim=True)  # batch mean
                xvar = x.var(0, keepdim=True)  # batch variance
            else:
                xmean = self.running_mean
                xvar = self.running_var
            xhat = (x - xmean) / torch.sqrt(xvar + self.eps)  # normalize to unit variance
            self.out = self.gamma * xhat + self.beta
            # update the buffers
            if self.training:
                with torch.no_grad():
                    self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * xmean
                    self.running_var = (1 - self.momentum) * self.running_var + self.momentum * xvar
            return self.out

        def parameters(self):
            return [self.gamma, self.beta]

    class Tanh:
        def __call__(self, x):
            self.out = torch.tanh(x)
            return self.out

        def parameters(self):
            return []

    n_embd = 10  # the dimensionality of the character embedding vectors
    n_hidden = 100  # the number of neurons in the hidden layer of the MLP
    g = torch.Generator().manual_seed(2147483647)  # for reproducibility

    C = torch.randn((vocab_size, n_embd), generator=g)
    layers = [
        Linear(n_embd * block_size, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, vocab_size, bias=False), BatchNorm1d(vocab_size),
    ]  # fmt: skip

    with torch.no_grad():
        # last layer: make less confident
        layers[-1].gamma *= 0.1
        # all other layers: apply gain
        for layer in layers[:-1]:
            if isinstance(layer, Linear):
                layer.weight *= 5 / 3

    parameters = [C] + [p for layer in layers for p in layer.parameters()]
    n_parameters = sum(p.nelement() for p in parameters)
    for p in parameters:
        p.requires_grad = True

    max_steps = steps
    batch_size = 32
    lossi = []
    ud = []

    for i in range(max_steps):
        # minibatch construct
        ix = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g)
        Xb, Yb = Xtr[ix], Ytr[ix]  # batch X,Y

        # forward pass
        emb = C[Xb]  # embed the characters into vectors
        x = emb.view(emb.shape[0], -1)  # concatenate the vectors
        for layer in layers:
            x = layer(x)
        loss = F.cross_entropy(x, Yb)  # loss function

        # backward pass
        for layer in layers:
            layer.out.retain_grad()  # AFTER_DEBUG: would take out retain_graph
        for p in parameters:
            p.grad = None
        loss.backward()

        # update
        lr = 0.1 if i < 150000 else 0.01  # step learning rate decay
        for p in parameters:
            p.data += -lr * p.grad

        # track stats
        lossi.append(loss.log10().item())
        with torch.no_grad():
            ud.append([((lr * p.grad).std() / p.data.std()).log10().item() for p in parameters])

    # visualize histograms: activations of each Tanh layer, and their gradients
    activations, gradients = [], []
    for i, layer in enumerate(layers[:-1]):
        if isinstance(layer, Tanh):
            t = layer.out
            saturated = (t.abs() > 0.97).float().mean() * 100
            hy, hx = torch.histogram(t, density=True)
            activations.append((t.mean().item(), t.std().item(), saturated.item(), hy, hx))
            t = layer.out.grad
            hy, hx = torch.histogram(t, density=True)
            gradients.append((t.mean().item(), t.std().item(), hy, hx))

    @torch.no_grad()  # this decorator disables gradient tracking
    def split_loss(X, Y):
        emb = C[X]  # (N, block_size, n_embd)
        x = emb.view(emb.shape[0], -1)  # concat into (N, block_size * n_embd)
        for layer in layers:
            x = layer(x)
        loss = F.cross_entropy(x, Y)
        return loss.item()

    # put layers into eval mode
    for layer in layers:
        layer.training = False
    return {
        "n_parameters": n_parameters,
        "lossi": lossi,
        "ud": ud,
        "activations": activations,
        "gradients": gradients,
        "dev": split_loss(Xdev, Ydev),
    }


def test_part3_the_batchnorm_mlp_starts_at_a_uniform_guess_and_its_diagnostics_work():
    steps = 300
    result = part3(ninjagrad, ninja_F, bundled_words(), steps=steps)
    n_embd, n_hidden, block_size = 10, 100, 3
    linears = n_embd * block_size * n_hidden + 4 * n_hidden * n_hidden + n_hidden * 27
    assert result["n_parameters"] == 27 * n_embd + linears + 2 * (5 * n_hidden + 27)  # 47,024
    first = 10 ** (sum(result["lossi"][:5]) / 5)
    assert abs(first - LN27) < 0.15  # gamma * 0.1 on the last layer: about ln 27 = 3.30 at the start
    assert result["dev"] < 2.8  # within a few hundred steps (~2.64 after 300 on both engines)
    for mean, std, saturated, hy, hx in result["activations"]:
        assert abs(mean) < 0.2 and 0.4 < std < 0.95  # BatchNorm keeps the tanh inputs near unit scale
        assert 0 <= saturated < 10  # the lecture's deep net sits at a few percent
        assert hy.shape == (100,) and hx.shape == (101,)
        assert abs((hy * (hx[1:] - hx[:-1])).sum().item() - 1) < 1e-4  # density=True integrates to 1
    for mean, std, hy, hx in result["gradients"]:
        assert abs(mean) < 1e-3 and 0 < std < 1e-2 and hy.shape == (100,)
    late = [ratio for step in result["ud"][-50:] for ratio in step]
    assert all(math.isfinite(r) for r in late)
    assert -4 < sum(late) / len(late) < -1  # update:data ratios around the lecture's 1e-3 (log10 -3)


# ---- part 5: a WaveNet ------------------------------------------------------------------------------------


def part5(torch, F, words, steps):
    stoi, itos = build_vocabulary(words)
    train_words, dev_words, _ = split_words(words)
    block_size = 8  # context length: how many characters do we take to predict the next one?
    Xtr, Ytr = build_dataset(torch, train_words, stoi, block_size)
    vocab_size = 27

    class Linear:
        def __init__(self, fan_in, fan_out, bias=True):
            self.weight = torch.randn((fan_in, fan_out)) / fan_in**0.5  # note: kaiming init
            self.bias = torch.zeros(fan_out) if bias else None

        def __call__(self, x):
            self.out = x @ self.weight
            if self.bias is not None:
                self.out += self.bias
            return self.out

        def parameters(self):
            return [self.weight] + ([] if self.bias is None else [self.bias])

    class BatchNorm1d:
        def __init__(self, dim, eps=1e-5, momentum=0.1):
            self.eps = eps
            self.momentum = momentum
            self.training = True
            # parameters (trained with backprop)
            self.gamma = torch.ones(dim)
            self.beta = torch.zeros(dim)
            # buffers (trained with a running 'momentum update')
            self.running_mean = torch.zeros(dim)
            self.running_var = torch.ones(dim)

        def __call__(self, x):
            # calculate the forward pass
            if self.training:
                if x.ndim == 2:
                    dim = 0
                elif x.ndim == 3:
                    dim = (0, 1)
                xmean = x.mean(dim, keepdim=True)  # batch mean
                xvar = x.var(dim, keepdim=True)  # batch variance
            else:
                xmean = self.running_mean
                xvar = self.running_var
            xhat = (x - xmean) / torch.sqrt(xvar + self.eps)  # normalize to unit variance
            self.out = self.gamma * xhat + self.beta
            # update the buffers
            if self.training:
                with torch.no_grad():
                    self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * xmean
                    self.running_var = (1 - self.momentum) * self.running_var + self.momentum * xvar
            return self.out

        def parameters(self):
            return [self.gamma, self.beta]

    class Tanh:
        def __call__(self, x):
            self.out = torch.tanh(x)
            return self.out

        def parameters(self):
            return []

    class Embedding:
        def __init__(self, num_embeddings, embedding_dim):
            self.weight = torch.randn((num_embeddings, embedding_dim))

        def __call__(self, IX):
            self.out = self.weight[IX]
            return self.out

        def parameters(self):
            return [self.weight]

    class FlattenConsecutive:
        def __init__(self, n):
            self.n = n

        def __call__(self, x):
            B, T, C = x.shape
            x = x.view(B, T // self.n, C * self.n)
            if x.shape[1] == 1:
                x = x.squeeze(1)
            self.out = x
            return self.out

        def parameters(self):
            return []

    class Sequential:
        def __init__(self, layers):
            self.layers = layers

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            self.out = x
            return self.out

        def parameters(self):
            # get parameters of all layers and stretch them out into one list
            return [p for layer in self.layers for p in layer.parameters()]

    torch.manual_seed(42)  # seed rng for reproducibility

    n_embd = 24  # the dimensionality of the character embedding vectors
    n_hidden = 128  # the number of neurons in the hidden layer of the MLP
    model = Sequential([
        Embedding(vocab_size, n_embd),
        FlattenConsecutive(2), Linear(n_embd * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        FlattenConsecutive(2), Linear(n_hidden * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        FlattenConsecutive(2), Linear(n_hidden * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, vocab_size),
    ])  # fmt: skip

    # parameter init
    with torch.no_grad():
        model.layers[-1].weight *= 0.1  # last layer make less confident

    parameters = model.parameters()
    n_parameters = sum(p.nelement() for p in parameters)
    for p in parameters:
        p.requires_grad = True

    max_steps = steps
    batch_size = 32
    lossi = []
    shapes = []
    for i in range(max_steps):
        # minibatch construct
        ix = torch.randint(0, Xtr.shape[0], (batch_size,))
        Xb, Yb = Xtr[ix], Ytr[ix]  # batch X,Y

        # forward pass
        logits = model(Xb)
        loss = F.cross_entropy(logits, Yb)  # loss function

        # backward pass
        for p in parameters:
            p.grad = None
        loss.backward()

        # update: simple SGD
        lr = 0.1 if i < 150000 else 0.01  # step learning rate decay
        for p in parameters:
            p.data += -lr * p.grad

        # track stats
        lossi.append(loss.log10().item())
        if i == 0:
            shapes = [tuple(layer.out.shape) for layer in model.layers]

    # put layers into eval mode (needed for batchnorm especially)
    for layer in model.layers:
        layer.training = False

    # sample from the model
    names = []
    for _ in range(3):
        out = []
        context = [0] * block_size  # initialize with all ...
        while True:
            # forward pass the neural net
            logits = model(torch.tensor([context]))
            probs = F.softmax(logits, dim=1)
            # sample from the distribution
            ix = torch.multinomial(probs, num_samples=1).item()
            # shift the context window and track the samples
            context = context[1:] + [ix]
            out.append(ix)
            # if we sample the special '.' token, break
            if ix == 0:
                break
        names.append("".join(itos[i] for i in out))

    smoothed = torch.tensor(lossi).view(-1, 50).mean(1)  # the lecture's plot of the loss, averaged
    return {
        "n_parameters": n_parameters,
        "shapes": shapes,
        "first": 10 ** lossi[0],
        "smoothed": smoothed.tolist(),
        "names": names,
    }


def test_part5_the_wavenet_fuses_pairs_of_characters_and_trains():
    result = part5(ninjagrad, ninja_F, bundled_words(), steps=400)
    assert result["n_parameters"] == 76579  # the lecture's count for n_embd 24, n_hidden 128
    assert result["shapes"] == [
        (32, 8, 24),  # Embedding
        (32, 4, 48), (32, 4, 128), (32, 4, 128), (32, 4, 128),  # pairs of characters
        (32, 2, 256), (32, 2, 128), (32, 2, 128), (32, 2, 128),  # pairs of pairs
        (32, 256), (32, 128), (32, 128), (32, 128),  # the whole context, squeezed
        (32, 27),
    ]  # fmt: skip
    assert abs(result["first"] - LN27) < 0.3  # last layer * 0.1: the first loss is about ln 27
    assert 10 ** result["smoothed"][-1] < 2.6  # falling (~2.4 over steps 350-400, on both engines)
    assert all(name.endswith(".") for name in result["names"])


# ---- the same text is PyTorch code -------------------------------------------------------------------------


@pytest.mark.slow
def test_the_ports_are_pytorch_code():
    """Every function above runs on PyTorch itself, and meets the same loose facts there."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as torch_F

    words = bundled_words()
    _, _, _, nll = part1_counts(torch, torch_F, words)
    assert abs(nll - 2.4544) < 2e-3
    assert part1_network(torch, torch_F, words, steps=15)[-1] < 2.7
    result = part2(torch, torch_F, words, steps=800)
    assert result["train"] < 5 and result["n_parameters"] == 11897
    result = part3(torch, torch_F, words, steps=300)
    assert result["dev"] < 2.8 and result["n_parameters"] == 47024
    result = part5(torch, torch_F, words, steps=400)
    assert result["n_parameters"] == 76579 and 10 ** result["smoothed"][-1] < 2.6
