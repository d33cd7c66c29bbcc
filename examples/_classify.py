"""The digits data and a classifier's training loop, shared by ``mlp_digits`` and ``cnn_digits``.

``load_digits_split`` puts scikit-learn's bundled 8x8 digits on a device; ``train_classifier``
runs minibatch epochs and keeps, per epoch, the mean training loss, the training accuracy of
those batches (in training mode), and the test loss and accuracy (in eval mode, without
recording a graph); ``plot_curves`` draws them.
"""

from __future__ import annotations

import random

import multigrad as mg
from multigrad.nn import functional as F
from _common import accuracy, minibatches, progress, pyplot, require

__all__ = ["load_digits_split", "train_classifier", "plot_curves"]


def load_digits_split(device, dtype, script: str, test_fraction: float = 0.25):
    """scikit-learn's bundled 8x8 digits (no download), split once, on ``device``.

    Returns ``(x_train, y_train, x_test, y_test)``: pixels scaled to [0, 1] as ``(n, 64)``
    rows of ``dtype`` and labels as int64. The split is stratified and always the same
    (``random_state=0``), so runs with different seeds are judged on the same test set.
    """
    datasets = require("sklearn.datasets", "scikit-learn", script)
    model_selection = require("sklearn.model_selection", "scikit-learn", script)
    pixels, labels = datasets.load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = model_selection.train_test_split(
        pixels, labels, test_size=test_fraction, random_state=0, stratify=labels)

    def features(x):
        return mg.asarray(x, dtype=dtype, device=device) / 16.0  # pixel values are 0..16

    def targets(y):
        return mg.asarray(y, dtype=mg.int64, device=device)

    return features(x_train), targets(y_train), features(x_test), targets(y_test)


def train_classifier(model, optimizer, scheduler, data, epochs: int, batch_size: int,
                     seed: int, shape=None) -> dict[str, list[float]]:
    """Train ``model`` on ``data = (x_train, y_train, x_test, y_test)``; return the curves.

    ``shape`` (such as ``(1, 8, 8)``) reshapes each row of pixels before the model sees it.
    ``scheduler`` (or None) steps once per epoch.
    """
    x_train, y_train, x_test, y_test = data
    if shape is not None:
        x_train = mg.reshape(x_train, (-1, *shape))
        x_test = mg.reshape(x_test, (-1, *shape))
    rng = random.Random(seed)
    history = {name: [] for name in ("train_loss", "train_acc", "test_loss", "test_acc")}
    bar = progress(range(epochs), "epochs")
    for _ in bar:
        model.train()
        losses, hits = [], []
        for batch in minibatches(x_train.shape[0], batch_size, rng, x_train.device):
            labels = mg.take(y_train, batch, axis=0)
            logits = model(mg.take(x_train, batch, axis=0))
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            hits.append(accuracy(logits.detach(), labels) * batch.shape[0])
        if scheduler is not None:
            scheduler.step()
        model.eval()
        with mg.no_grad():
            logits = model(x_test)
            history["test_loss"].append(F.cross_entropy(logits, y_test).item())
            history["test_acc"].append(accuracy(logits, y_test))
        history["train_loss"].append(sum(losses) / len(losses))
        history["train_acc"].append(sum(hits) / x_train.shape[0])
        bar.set_postfix(loss=history["train_loss"][-1], test_acc=history["test_acc"][-1],
                        refresh=False)
    return history


def plot_curves(history: dict[str, list[float]], title: str, path, script: str) -> None:
    """Loss (log scale) and accuracy per epoch, training and test, side by side."""
    plt = pyplot(script)
    epochs = range(1, len(history["train_loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.semilogy(epochs, history["train_loss"], label="training (batches)")
    ax_loss.semilogy(epochs, history["test_loss"], label="test")
    ax_loss.set(title=f"{title}: cross-entropy", xlabel="epoch", ylabel="loss")
    ax_loss.legend()
    lowest = min(history["train_acc"] + history["test_acc"] + [0.8])
    ax_acc.plot(epochs, history["train_acc"], label="training (batches)")
    ax_acc.plot(epochs, history["test_acc"], label="test")
    ax_acc.set(title=f"{title}: accuracy (final test {history['test_acc'][-1]:.2%})",
               xlabel="epoch", ylabel="accuracy", ylim=(lowest - 0.02, 1.005))
    ax_acc.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
