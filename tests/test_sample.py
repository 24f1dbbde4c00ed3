"""Sampling: follows the model's distribution, slides the context, stops at '.', is reproducible."""

import numpy as np
import pytest

from ninjagrad.errors import UserError
from ninjagrad.makemore.checkpoint import Checkpoint
from ninjagrad.makemore.data import Vocabulary
from ninjagrad.makemore.model import ModelConfig, init_params
from ninjagrad.makemore.sample import sample_checkpoint, sample_items

VOCAB = Vocabulary(".abc")
V = VOCAB.size


def rule_model(next_token: dict[int, int], block_size: int = 2):
    """A model that deterministically follows ``next_token[last token]`` (a hand-set lookup table).

    Embeddings are one-hot, W1 copies the newest context slot to the hidden units, BatchNorm is the identity
    (mean 0, var 1 - eps) and W2 maps hidden unit i to a huge logit for next_token[i].
    """
    C = np.eye(V, dtype=np.float32)  # (V, V) one-hot embeddings
    W1 = np.zeros((block_size * V, V), dtype=np.float32)
    W1[(block_size - 1) * V :, :] = np.eye(V)  # only the newest character is read
    W2 = np.zeros((V, V), dtype=np.float32)
    for token, following in next_token.items():
        W2[token, following] = 100.0
    params = {
        "C": C,
        "W1": W1,
        "b1": np.zeros(V, np.float32),
        "W2": W2,
        "b2": np.zeros(V, np.float32),
        "bngain": np.ones((1, V), np.float32),
        "bnbias": np.zeros((1, V), np.float32),
    }
    bnmean = np.zeros((1, V), np.float32)
    bnvar = np.full((1, V), 1 - 1e-5, np.float32)
    return params, bnmean, bnvar


def constant_model(probs, block_size: int = 3):
    """A model that ignores its context: the next-token distribution is always ``probs``."""
    params = init_params(
        ModelConfig(vocab_size=V, block_size=block_size, n_embd=2, n_hidden=4), np.random.default_rng(0)
    )
    params["W2"][:] = 0
    params["b2"][:] = np.log(probs)
    bnmean, bnvar = np.zeros((1, 4), np.float32), np.ones((1, 4), np.float32)
    return params, bnmean, bnvar


def test_the_context_slides_and_the_end_token_stops_each_sample():
    params, bnmean, bnvar = rule_model({0: 1, 1: 2, 2: 3, 3: 0})  # . -> a -> b -> c -> .
    samples = sample_items(params, bnmean, bnvar, VOCAB, 2, 5, np.random.default_rng(0))
    assert samples == ["abc"] * 5


def test_a_sample_that_never_ends_is_cut_at_max_length():
    params, bnmean, bnvar = rule_model({0: 2, 1: 1, 2: 1, 3: 1})  # . -> b -> a -> a -> a ...
    samples = sample_items(params, bnmean, bnvar, VOCAB, 2, 3, np.random.default_rng(0), max_length=12)
    assert samples == ["b" + "a" * 11] * 3


def test_a_model_sure_of_the_end_token_gives_empty_samples():
    params, bnmean, bnvar = constant_model([1 - 3e-9, 1e-9, 1e-9, 1e-9])
    assert sample_items(params, bnmean, bnvar, VOCAB, 3, 4, np.random.default_rng(0)) == [""] * 4


def test_characters_follow_the_model_distribution():
    probs = np.array([0.2, 0.5, 0.25, 0.05])
    params, bnmean, bnvar = constant_model(probs)
    samples = sample_items(params, bnmean, bnvar, VOCAB, 3, 4000, np.random.default_rng(1))
    text = "".join(samples)
    n = len(text) + len(samples)  # every drawn token, the end tokens included
    for token, p in enumerate(probs):
        count = len(samples) if token == 0 else text.count(VOCAB.chars[token])
        sigma = np.sqrt(n * p * (1 - p))
        assert abs(count - n * p) < 5 * sigma, (VOCAB.chars[token], count, n * p)
    # With a constant end probability of 0.2 the length is geometric: mean (1 - 0.2) / 0.2 = 4.
    assert np.mean([len(s) for s in samples]) == pytest.approx(4.0, rel=0.06)


def test_the_same_seed_gives_the_same_samples_and_another_seed_others():
    params, bnmean, bnvar = constant_model([0.25, 0.25, 0.25, 0.25])
    draw = lambda seed: sample_items(params, bnmean, bnvar, VOCAB, 3, 30, np.random.default_rng(seed))  # noqa: E731
    assert draw(5) == draw(5)
    assert draw(5) != draw(6)


def test_zero_samples_is_a_user_error():
    params, bnmean, bnvar = constant_model([0.25, 0.25, 0.25, 0.25])
    with pytest.raises(UserError, match="at least 1, got 0"):
        sample_items(params, bnmean, bnvar, VOCAB, 3, 0, np.random.default_rng(0))


def test_a_checkpoint_without_calibrated_batchnorm_cannot_be_sampled():
    params, _, _ = rule_model({0: 1, 1: 2, 2: 3, 3: 0})
    config = ModelConfig(vocab_size=V, block_size=2, n_embd=V, n_hidden=V)
    unfinished = Checkpoint(
        config, VOCAB, params, 500, np.zeros(500, np.float32), {"config": {"steps": 2000}}
    )
    with pytest.raises(UserError, match="stopped at step 500 of 2,000.*--resume"):
        sample_checkpoint(unfinished, 3, np.random.default_rng(0))


def test_a_finished_checkpoint_samples_with_its_statistics():
    params, bnmean, bnvar = rule_model({0: 3, 1: 0, 2: 1, 3: 2})  # . -> c -> b -> a -> .
    config = ModelConfig(vocab_size=V, block_size=2, n_embd=V, n_hidden=V)
    finished = Checkpoint(config, VOCAB, params, 9, np.zeros(9, np.float32), {}, bnmean, bnvar)
    assert sample_checkpoint(finished, 2, np.random.default_rng(0)) == ["cba", "cba"]


def test_a_checkpoint_samples_with_its_own_bn_eps():
    # bnvar 1e-3 next to bn_eps 0.5 or the default 1e-5: BatchNorm's scale, so the samples, differ by ~20x.
    config = ModelConfig(vocab_size=V, block_size=3, n_embd=2, n_hidden=4, bn_eps=0.5)
    params = init_params(config, np.random.default_rng(0))
    bnmean, bnvar = np.zeros((1, 4), np.float32), np.full((1, 4), 1e-3, np.float32)
    checkpoint = Checkpoint(config, VOCAB, params, 9, np.zeros(9, np.float32), {}, bnmean, bnvar)
    draw = lambda **eps: sample_items(params, bnmean, bnvar, VOCAB, 3, 50, np.random.default_rng(3), **eps)  # noqa: E731
    assert sample_checkpoint(checkpoint, 50, np.random.default_rng(3)) == draw(eps=0.5) != draw()
