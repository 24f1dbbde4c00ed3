"""The moons demo: the data generator, the training run (100% accuracy in 100 steps), the NumPy scores."""

from __future__ import annotations

import numpy as np
import pytest

from ninjagrad.errors import UserError
from ninjagrad.scalar import Value
from ninjagrad.scalar.moons import MoonsConfig, make_moons, moons_loss, numpy_scores, train_moons
from ninjagrad.scalar.nn import MLP
from ninjagrad.viz.boundary import plot_decision_boundary


def test_moons_are_two_noisy_half_circles_with_balanced_labels():
    X, y = make_moons(100, noise=0.0, seed=0)
    assert X.shape == (100, 2) and y.shape == (100,)
    assert sorted(set(y.tolist())) == [-1.0, 1.0] and (y == 1).sum() == 50
    upper, lower = X[y == -1], X[y == 1]
    # Without noise every point lies on its circle: the unit circle's upper half, and the unit circle
    # around (1, 0.5), lower half.
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12)
    assert (upper[:, 1] >= -1e-12).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, atol=1e-12)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


def test_noise_has_the_requested_size_and_the_seed_fixes_everything():
    clean, _ = make_moons(2000, noise=0.0, seed=3)
    noisy, _ = make_moons(2000, noise=0.1, seed=3)
    assert np.std(noisy - clean) == pytest.approx(0.1, rel=0.05)  # same shuffle, plus N(0, 0.1²)
    again, _ = make_moons(2000, noise=0.1, seed=3)
    other, _ = make_moons(2000, noise=0.1, seed=4)
    assert np.array_equal(noisy, again) and not np.array_equal(noisy, other)
    odd_X, odd_y = make_moons(7, seed=0)
    assert odd_X.shape == (7, 2) and (odd_y == -1).sum() == 3


def test_learning_rate_schedule_is_the_demos():
    config = MoonsConfig()
    assert [config.learning_rate(k) for k in (0, 50, 99)] == pytest.approx([1.0, 0.55, 1.0 - 0.9 * 0.99])


def test_config_refuses_nonsense():
    with pytest.raises(ValueError, match="steps must be at least 1, got 0"):
        MoonsConfig(steps=0)
    with pytest.raises(ValueError, match="cannot be negative, got -0.1"):
        MoonsConfig(noise=-0.1)
    with pytest.raises(ValueError, match="seed must be 0 or more .*got -1"):
        MoonsConfig(seed=-1)


def test_demo_reaches_full_accuracy_in_100_steps():
    steps = []
    result = train_moons(MoonsConfig(), on_step=lambda k, loss, acc: steps.append(k))
    assert len(result.model.parameters()) == 337
    assert steps == list(range(100))
    assert result.final_accuracy == 1.0
    assert result.accuracies[0] < 0.9  # it did have to learn
    assert result.losses[-1] < 0.02 < result.losses[0]  # the micrograd demo lecture: final loss ≈ 0.011
    again = train_moons(MoonsConfig(steps=1))
    assert again.losses[0] == result.losses[0]  # the same seed: the same data and initial weights


def test_moons_loss_is_hinge_plus_l2_and_accuracy_is_the_sign():
    model = MLP(2, [4, 1], seed=0)
    X = np.array([[0.5, -1.0], [1.5, 0.25], [-0.5, 0.75]])
    y = np.array([1.0, -1.0, 1.0])
    loss, accuracy = moons_loss(model, X, y, alpha=1e-3)
    scores = [model([float(a), float(b)]).data for a, b in X]
    hinge = sum(max(0.0, 1.0 - label * s) for label, s in zip(y, scores, strict=True)) / 3
    l2 = 1e-3 * sum(p.data**2 for p in model.parameters())
    assert loss.data == pytest.approx(hinge + l2, rel=1e-12)
    assert accuracy == sum((s > 0) == (label > 0) for s, label in zip(scores, y, strict=True)) / 3


def test_numpy_scores_match_the_value_forward():
    model = MLP(2, [5, 3, 1], seed=2)
    points = np.random.default_rng(0).normal(size=(20, 2))
    expected = [model([Value(float(a)), Value(float(b))]).data for a, b in points]
    np.testing.assert_allclose(numpy_scores(model, points), expected, rtol=1e-12, atol=1e-12)
    wide = MLP(2, [3, 2], seed=2)
    assert numpy_scores(wide, points).shape == (20, 2)


def test_decision_boundary_png_and_an_unwritable_place(tmp_path):
    X, y = make_moons(20, seed=0)
    path = plot_decision_boundary(lambda points: points[:, 0] - 0.5, X, y, tmp_path / "sub" / "b.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    (tmp_path / "a_file").write_text("in the way")
    with pytest.raises(UserError, match="a_file' is a file, not a directory"):
        plot_decision_boundary(lambda points: points[:, 0], X, y, tmp_path / "a_file" / "b.png")
