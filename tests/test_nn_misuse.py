"""Misuse of layers, losses and state dicts: each gets an error that names the layer or loss,
what it got and what it expected, raised before anything changes, on every device alike."""

from __future__ import annotations

import re

import numpy as np
import pytest

import multigrad as mg
from multigrad import nn
from multigrad.nn import functional as F

DEVICES = ["cpu", "strict:device1"]


# -- load_state_dict -----------------------------------------------------------------------------

@pytest.mark.parametrize("state, got", [
    (None, "NoneType"), ([("weight", mg.ones((2, 3)))], "list"), ("weight", "str"),
])
def test_load_state_dict_of_a_non_mapping_is_a_type_error(state, got):
    layer = nn.Linear(3, 2, seed=0)
    before = layer.weight.numpy().copy()
    with pytest.raises(TypeError, match=r"load_state_dict: Linear: expected a mapping of names "
                                        rf"to tensors \(as state_dict\(\) returns\), got {got}"):
        layer.load_state_dict(state)
    np.testing.assert_array_equal(layer.weight.numpy(), before)


@pytest.mark.parametrize("value, got", [
    (None, "None"), ([[1.0, 2.0, 3.0]] * 2, "a list"), ("abc", "a str"),
])
def test_load_state_dict_values_that_are_not_arrays_are_named(value, got):
    layer = nn.Linear(3, 2, seed=0)
    before = layer.bias.numpy().copy()
    state = {"weight": value, "bias": mg.zeros((2,))}
    with pytest.raises(TypeError, match=rf"'weight' is {got} in the state dict; expected a "
                                        r"tensor or array of shape \(2, 3\)"):
        layer.load_state_dict(state)
    np.testing.assert_array_equal(layer.bias.numpy(), before)  # nothing changed


def test_numbers_still_load_into_0d_buffers():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", mg.asarray(0.0))

    module = Counter()
    module.load_state_dict({"count": 5})
    assert float(module.count) == 5.0


# -- inputs that are not tensors -----------------------------------------------------------------

class Pair(nn.Module):
    """A module that returns two values, as attention or RNN layers do."""

    def forward(self, x):
        return x, x


LAYERS = {
    "Linear": (lambda: nn.Linear(4, 2), (2, 4)),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 1), (1, 2, 4)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 1), (1, 2, 4, 4)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(4), (2, 4)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(2), (2, 2, 4, 4)),
    "LayerNorm": (lambda: nn.LayerNorm(4), (2, 4)),
    "Flatten": (lambda: nn.Flatten(), (2, 4)),
    "Dropout": (lambda: nn.Dropout(0.5, seed=0), (2, 4)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (1, 2, 4, 4)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (1, 2, 4, 4)),
    "ReLU": (nn.ReLU, (2, 4)), "Sigmoid": (nn.Sigmoid, (2, 4)), "Tanh": (nn.Tanh, (2, 4)),
    "GELU": (nn.GELU, (2, 4)), "Softmax": (nn.Softmax, (2, 4)),
    "LogSoftmax": (nn.LogSoftmax, (2, 4)), "Softplus": (nn.Softplus, (2, 4)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_a_tuple_from_the_module_before_is_named_by_the_layer_it_reaches(name):
    make, shape = LAYERS[name]
    layer = make()
    x = mg.ones(shape, dtype=mg.float32)  # the layers' default dtype
    assert layer(x).device == "cpu"  # the layer works on a tensor of that shape
    with pytest.raises(TypeError, match=re.escape(repr(layer)) + r": expected a Tensor input, "
                                        r"got a tuple of 2 \(Tensor, Tensor\); if a module "
                                        r"before it returns several values"):
        nn.Sequential(Pair(), layer)(x)
    with pytest.raises(TypeError, match=r"got None; make one with multigrad\.asarray"):
        layer(None)
    with pytest.raises(TypeError, match=r"got a list of 2 \(list, list\); make one with"):
        layer([[1.0] * shape[-1]] * 2)


def test_numpy_arrays_still_reach_layers_on_the_cpu():
    layer = nn.Linear(3, 2, seed=0)
    np.testing.assert_allclose(layer(np.ones((1, 3), dtype=np.float32)).numpy(),
                               layer(mg.ones((1, 3), dtype=mg.float32)).numpy())


# -- labels and targets --------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_float_labels_to_cross_entropy_are_blamed_on_the_dtype_not_the_shape(device):
    logits = mg.ones((4, 3), device=device)
    for labels in (mg.asarray([0.0, 1.0, 2.0, 1.0], device=device), [0.0, 1.0, 2.0, 1.0]):
        with pytest.raises(TypeError, match=r"cross_entropy: target of shape \(4,\) has dtype "
                                            r"float\d\d; class labels must be integer class "
                                            r"indices .*class probabilities, of input's shape "
                                            r"\(4, 3\)"):
            F.cross_entropy(logits, labels)
    with pytest.raises(TypeError, match=r"nll_loss: target has dtype float\d\d; class labels "
                                        r"must be integer class indices"):
        F.nll_loss(logits, mg.asarray([0.0, 1.0, 2.0, 1.0], device=device))
    # probabilities of the input's shape stay a feature
    probs = mg.full((4, 3), 1 / 3, device=device)
    np.testing.assert_allclose(float(F.cross_entropy(logits, probs)), np.log(3.0))


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_class_indices_past_the_last_class_name_the_loss(loss):
    with pytest.raises(IndexError, match=rf"{loss.__name__}: class indices must be in \[0, 3\); "
                                         "got 5"):
        loss(mg.ones((4, 3)), mg.asarray([0, 1, 5, 1]))


def test_embedding_indices_past_the_table_name_embedding():
    with pytest.raises(IndexError, match=r"embedding: indices must be in \[0, 3\); got 3"):
        nn.Embedding(3, 2, seed=0)(mg.asarray([1, 3]))


@pytest.mark.parametrize("device", DEVICES)
def test_integer_inputs_to_losses_and_normalisation_are_named(device):
    ints = mg.ones((4, 3), dtype=mg.int64, device=device)
    labels = mg.asarray([0, 1, 2, 1], device=device)
    for call, op in [(lambda: F.cross_entropy(ints, labels), "cross_entropy"),
                     (lambda: F.mse_loss(ints, ints), "mse_loss"),
                     (lambda: F.binary_cross_entropy_with_logits(ints, ints),
                      "binary_cross_entropy_with_logits")]:
        with pytest.raises(TypeError, match=f"{op}: input must be a Tensor of a real "
                                            "floating-point dtype, got dtype int64"):
            call()
    for layer, op in [(nn.BatchNorm1d(3, device=device), "batch_norm"),
                      (nn.LayerNorm(3, device=device), "layer_norm")]:
        with pytest.raises(TypeError, match=re.escape(repr(layer)) + ": input has dtype int64 "
                                            r"but the layer's parameters have dtype float32; "
                                            r"cast the input \(x.astype\(multigrad.float32\)\)$"):
            layer(ints)
        with pytest.raises(TypeError, match=f"{op}: input must be a Tensor of a real "
                                            "floating-point dtype, got dtype int64"):
            getattr(F, op)(ints, *((None, None) if op == "batch_norm" else (3,)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("loss", [F.mse_loss, F.binary_cross_entropy_with_logits])
def test_integer_and_boolean_targets_are_values_of_the_input_dtype(device, loss):
    x = mg.asarray(np.array([[0.5, -1.0], [2.0, 0.0]], dtype=np.float32), device=device)
    as_float = loss(x, mg.asarray(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32),
                                  device=device))
    for target in (mg.asarray(np.array([[1, 0], [0, 1]]), device=device),
                   mg.asarray(np.array([[True, False], [False, True]]), device=device)):
        got = loss(x, target)
        assert got.dtype == mg.float32 and got.device == device
        np.testing.assert_array_equal(got.numpy(), as_float.numpy())


# -- sizes given to constructors -----------------------------------------------------------------

@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Linear(3.5, 2), TypeError, "Linear: in_features must be an integer, got 3.5"),
    (lambda: nn.Linear(0, 2), ValueError, "Linear: in_features must be at least 1, got 0"),
    (lambda: nn.Linear(3, -1), ValueError, "Linear: out_features must be at least 0, got -1"),
    (lambda: nn.Conv2d(3, 2, 0), ValueError, "Conv2d: kernel_size must be positive, got 0"),
    (lambda: nn.Conv1d(0, 2, 1), ValueError, "Conv1d: in_channels must be at least 1, got 0"),
    (lambda: nn.Conv2d(2, 2, 1, groups=0), ValueError, "Conv2d: groups must be at least 1"),
    (lambda: nn.Embedding(-1, 2), ValueError, "Embedding: num_embeddings must be at least 0"),
    (lambda: nn.Embedding(3, True), TypeError, "Embedding: embedding_dim must be an integer"),
    (lambda: nn.BatchNorm1d(2.5), TypeError, "BatchNorm1d: num_features must be an integer"),
    (lambda: nn.LayerNorm((2, -1)), ValueError, "LayerNorm: normalized_shape must be at least 0"),
])
def test_sizes_that_cannot_make_a_layer_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()
