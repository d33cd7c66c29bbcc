"""Losses of multigrad.nn.functional against NumPy references, at extreme logits, and their
gradients against central differences."""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg
from multigrad.nn import functional as F


def log_softmax_ref(z, axis):
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def cross_entropy_ref(logits, target, smoothing=0.0):
    """Per-sample cross-entropy from probabilities (classes on axis 1)."""
    n_classes = logits.shape[1]
    target = (1 - smoothing) * target + smoothing / n_classes
    return -(target * log_softmax_ref(logits, 1)).sum(axis=1)


def one_hot(labels, n_classes):
    """(N, d...) labels -> (N, C, d...) one-hot probabilities."""
    return np.moveaxis(np.eye(n_classes)[labels], -1, 1)


def _close(backend, actual, expected):
    tol = 1e-12 if backend.precise else 1e-5
    np.testing.assert_allclose(actual.numpy(), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 2)])
def test_cross_entropy_with_class_indices(backend, rng, smoothing, shape):
    logits = rng.normal(size=shape) * 3
    labels = rng.integers(0, shape[1], size=shape[:1] + shape[2:])
    per_sample = cross_entropy_ref(logits, one_hot(labels, shape[1]), smoothing)
    z, t = backend.tensor(logits), mg.asarray(labels, device=backend.device)
    _close(backend, F.cross_entropy(z, t, label_smoothing=smoothing), per_sample.mean())
    _close(backend, F.cross_entropy(z, t, "sum", smoothing), per_sample.sum())
    _close(backend, F.cross_entropy(z, t, "none", smoothing), per_sample)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_with_probabilities(backend, rng, smoothing):
    logits = rng.normal(size=(4, 3))
    probs = rng.dirichlet(np.ones(3), size=4)
    loss = F.cross_entropy(backend.tensor(logits), backend.tensor(probs), reduction="none",
                           label_smoothing=smoothing)
    _close(backend, loss, cross_entropy_ref(logits, probs, smoothing))


def test_cross_entropy_of_one_unbatched_sample(backend):
    logits = np.array([1.0, -2.0, 0.5])
    loss = F.cross_entropy(backend.tensor(logits), mg.asarray(2, device=backend.device))
    _close(backend, loss, -log_softmax_ref(logits, 0)[2])


def test_cross_entropy_is_finite_at_extreme_logits(backend):
    logits = backend.tensor(np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]]),
                            requires_grad=True)
    loss = F.cross_entropy(logits, mg.asarray([1, 2], device=backend.device),
                           label_smoothing=0.1)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(logits.grad.numpy()))
    # log-probabilities [0, -2000, -1000] (label 1) and [-2000, -2000, 0] (label 2); smoothing
    # puts 0.1 on the mean over the classes
    expected = (0.9 * 2000 + 0.1 * 3000 / 3) + (0.9 * 0 + 0.1 * 4000 / 3)
    np.testing.assert_allclose(loss.item(), expected / 2, rtol=1e-6)


def test_nll_loss_matches_cross_entropy_of_log_softmax(backend, rng):
    logits = rng.normal(size=(6, 5))
    labels = rng.integers(0, 5, size=6)
    log_probs = mg.log_softmax(backend.tensor(logits), axis=1)
    t = mg.asarray(labels, device=backend.device)
    _close(backend, F.nll_loss(log_probs, t, reduction="none"),
           -log_softmax_ref(logits, 1)[np.arange(6), labels])
    _close(backend, F.nll_loss(log_probs, t), F.cross_entropy(backend.tensor(logits), t).numpy())


@pytest.mark.parametrize("pos_weight", [None, 3.0])
def test_binary_cross_entropy_with_logits(backend, rng, pos_weight):
    x = rng.normal(size=(4, 3)) * 4
    t = rng.uniform(size=(4, 3))
    p = 1 / (1 + np.exp(-x))
    w = 1.0 if pos_weight is None else pos_weight
    expected = -(w * t * np.log(p) + (1 - t) * np.log(1 - p))
    loss = F.binary_cross_entropy_with_logits(backend.tensor(x), backend.tensor(t), "none",
                                              pos_weight)
    _close(backend, loss, expected)


def test_binary_cross_entropy_is_finite_at_extreme_logits(backend):
    x = backend.tensor(np.array([1000.0, -1000.0]), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, backend.tensor(np.array([0.0, 1.0])), "sum")
    loss.backward()
    np.testing.assert_allclose(loss.item(), 2000.0, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0])


def test_mse_loss(backend, rng):
    a, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    _close(backend, F.mse_loss(backend.tensor(a), backend.tensor(b)), ((a - b) ** 2).mean())
    _close(backend, F.mse_loss(backend.tensor(a), backend.tensor(b), "sum"), ((a - b) ** 2).sum())


@pytest.mark.parametrize("loss", ["cross_entropy-indices", "cross_entropy-probabilities",
                                  "nll_loss", "binary_cross_entropy_with_logits", "mse_loss"])
def test_loss_gradients_match_central_differences(backend64, rng, loss):
    x = backend64.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    labels = mg.asarray(np.array([0, 2, 1, 2]), device=backend64.device)
    probs = backend64.tensor(rng.dirichlet(np.ones(3), size=4), requires_grad=True)
    fns = {
        "cross_entropy-indices": (lambda x: F.cross_entropy(x, labels, label_smoothing=0.1), [x]),
        "cross_entropy-probabilities": (lambda x, p: F.cross_entropy(x, p, "sum"), [x, probs]),
        "nll_loss": (lambda x: F.nll_loss(x, labels, "none"), [x]),
        "binary_cross_entropy_with_logits": (
            lambda x, p: F.binary_cross_entropy_with_logits(x, p, pos_weight=2.0), [x, probs]),
        "mse_loss": (lambda x, p: F.mse_loss(x, p), [x, probs]),
    }
    fn, inputs = fns[loss]
    assert mg.gradcheck(fn, *inputs)


def test_bad_targets_are_explained():
    logits = mg.ones((3, 4))
    with pytest.raises(ValueError, match=r"cross_entropy: input of shape \(3, 4\) needs class "
                                         r"indices of shape \(3,\), got \(3, 1\)"):
        F.cross_entropy(logits, mg.asarray([[0], [1], [2]]))
    with pytest.raises(ValueError, match=r"cross_entropy: target has shape \(3, 3\); input of "
                                         r"shape \(3, 4\) needs class probabilities of its "
                                         r"shape \(a floating dtype\) or class indices of shape "
                                         r"\(3,\)"):
        F.cross_entropy(logits, mg.ones((3, 3)))
    with pytest.raises(IndexError, match=r"class indices must be in \[0, 4\); got -1"):
        F.cross_entropy(logits, mg.asarray([0, -1, 2]))
    with pytest.raises(IndexError, match=r"nll_loss: class indices must be in \[0, 4\); got 4"):
        F.nll_loss(logits, mg.asarray([0, 4, 2]))
    with pytest.raises(ValueError, match="mse_loss: reduction must be 'mean', 'sum' or 'none'"):
        F.mse_loss(logits, logits, reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        F.cross_entropy(logits, mg.asarray([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: input has shape"):
        F.binary_cross_entropy_with_logits(logits, mg.ones((4,)))
    with pytest.raises(mg.MixedDeviceError, match=r"cross_entropy: arguments are on different "
                                                  r"devices \(cpu and strict:device1\)"):
        F.cross_entropy(logits, mg.asarray([0, 1, 2], device="strict:device1"))
