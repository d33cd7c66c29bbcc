"""Values in and out of multigrad: what creation accepts, what NumPy gets back, and misuse that
must fail at once with an error naming the problem instead of later, or silently."""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg


# -- creation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, what", [
    ([2**70], "integers beyond the 64-bit range"),
    ([[2**64, 1]], "integers beyond the 64-bit range"),
    (["a"], "strings"),
    ([1.0, "a"], "strings"),
    (np.array(["x", "y"]), "strings"),
    (np.array([1, 2], dtype="datetime64[s]"), "dates"),
    ([object()], "Python objects that are not numbers"),
])
@pytest.mark.parametrize("make", [mg.tensor, mg.asarray])
def test_creation_refuses_values_that_are_not_numbers(make, data, what):
    with pytest.raises(TypeError, match=what):
        make(data)


def test_an_integer_beyond_a_given_dtype_names_the_widest_dtypes():
    with pytest.raises(OverflowError, match=r"asarray: .*the widest integer dtypes are int64"):
        mg.asarray([2**70], dtype=mg.int64)


def test_tensor_takes_its_options_by_keyword_only():
    # as torch.tensor: tensor(data, float32) would read like NumPy's asarray(data, dtype)
    with pytest.raises(TypeError, match="positional argument"):
        mg.tensor([1.0], mg.float32)


def test_asarray_of_a_tensor_copies_only_when_asked():
    t = mg.tensor([1.0, 2.0])
    assert mg.asarray(t) is t and mg.asarray(t, dtype=mg.float64) is t
    assert mg.asarray(t, copy=False) is t
    cast = mg.asarray(t, dtype=mg.float32)
    assert cast.dtype == mg.float32 and t.dtype == mg.float64
    copied = mg.asarray(t, copy=True)
    assert copied is not t and not np.shares_memory(np.asarray(copied), np.asarray(t))
    copied[0] = 5.0  # a copy: writing into it leaves the original alone
    assert t.numpy().tolist() == [1.0, 2.0]
    # astype copies by default, as the standard asks, even to the same dtype
    assert not np.shares_memory(np.asarray(mg.astype(t, mg.float64)), np.asarray(t))
    assert np.shares_memory(np.asarray(mg.astype(t, mg.float64, copy=False)), np.asarray(t))


def test_asarray_of_a_host_array_shares_or_copies_as_asked():
    host = np.array([1.0, 2.0])
    shared, copied = mg.asarray(host, device="cpu"), mg.asarray(host, device="cpu", copy=True)
    host[0] = 7.0
    assert shared.numpy()[0] == 7.0 and copied.numpy()[0] == 1.0
    with pytest.raises(ValueError, match="asarray: copy=False, but moving from cpu to "
                                         "strict:device1 needs a copy"):
        mg.asarray(host, device="strict:device1", copy=False)


def test_moving_between_devices_of_one_library_copies():
    source = mg.tensor([1.0, 2.0], device="strict:CPU_DEVICE")
    moved = source.to("strict:device1")
    source[0] = 5.0
    assert moved.device == "strict:device1" and moved.numpy().tolist() == [1.0, 2.0]
    # an array of the library itself, written after the move (array-api-strict shares memory
    # across its devices unless asked to copy)
    raw = mg.tensor([1.0, 2.0], device="strict:CPU_DEVICE").data
    moved = mg.asarray(raw, device="strict:device1")
    raw[0] = 5.0
    assert moved.numpy().tolist() == [1.0, 2.0]


def test_nested_lists_of_tensors_are_stacked_on_the_graph():
    a, b = mg.tensor(1.0, requires_grad=True), mg.tensor(2.0, requires_grad=True)
    for make in (mg.asarray, mg.tensor):
        grid = make([[a, b], [b, 3.0]])
        assert grid.shape == (2, 2) and grid.numpy().tolist() == [[1.0, 2.0], [2.0, 3.0]]
    mg.sum(mg.asarray([[a, b], [b, a]]) ** 2).backward()
    assert (a.grad.item(), b.grad.item()) == (4.0, 8.0)


def test_creation_keeps_the_integer_range_it_can_hold():
    assert mg.tensor([2**62]).dtype == mg.int64
    assert mg.tensor([-(2**63)]).item() == -(2**63)


@pytest.mark.parametrize("arg", [[1.0, 2.0], (1.0, 2.0), range(3)])
def test_an_op_given_a_python_sequence_says_to_make_a_tensor(arg):
    with pytest.raises(TypeError, match=r"exp: argument 0 is a \w+; .*multigrad\.asarray"):
        mg.exp(arg)


def test_an_op_given_an_object_it_cannot_use_names_the_argument():
    with pytest.raises(TypeError, match=r"add: argument 1 is a dict"):
        mg.add(mg.tensor([1.0]), {"a": 1})


def test_numpy_data_goes_to_the_default_device_and_device_arrays_stay():
    host = np.ones(3)
    strict = mg.tensor([1.0], device="strict:device1")
    previous = mg.get_default_device()
    mg.set_default_device("strict:device1")
    try:
        assert mg.asarray(host).device == "strict:device1"
        assert mg.tensor(host).device == "strict:device1"
        assert mg.asarray(host, device="cpu").device == "cpu"
        cpu = mg.tensor([1.0], device="cpu")
        assert mg.asarray(cpu).device == "cpu"  # a tensor keeps its device
        assert mg.asarray(strict.data).device == "strict:device1"
    finally:
        mg.set_default_device(previous)


def test_an_axis_out_of_range_names_the_op_and_keeps_numpys_error_type():
    with pytest.raises(np.exceptions.AxisError, match=r"^sum: .*\(1, 2\).*axis 3"):
        mg.sum(mg.tensor([[1.0, 2.0]]), axis=3)


def test_out_is_refused_before_anything_is_written_or_recorded():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    buf = np.zeros(2)
    with pytest.raises(TypeError, match=r"^exp: .*out="):
        mg.exp(x, out=buf)
    np.testing.assert_array_equal(buf, [0.0, 0.0])


# -- out to NumPy --------------------------------------------------------------------------------

def test_numpy_is_a_copy_that_cannot_change_the_tensor_or_its_gradient():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = mg.tensor([4.0, 5.0, 6.0])
    loss = mg.sum(x * y)  # the node saved y's array
    host = y.numpy()
    host[:] = 0.0
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(y.numpy(), [4.0, 5.0, 6.0])


@pytest.mark.parametrize("device", ["cpu", "strict:CPU_DEVICE"])
def test_numpy_asarray_of_a_host_tensor_is_a_read_only_view(device):
    t = mg.tensor([1.0, 2.0], device=device)
    view = np.asarray(t)
    np.testing.assert_array_equal(view, [1.0, 2.0])
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 5.0
    copy = np.array(t, copy=True)
    copy[0] = 5.0
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    assert np.asarray(t, dtype=np.float32).dtype == np.float32


def test_numpy_asarray_without_a_copy_shares_memory_on_the_cpu():
    t = mg.tensor([1.0, 2.0])
    assert np.shares_memory(np.asarray(t), t.data)
    with pytest.raises(ValueError, match="needs a copy"):
        np.asarray(t, dtype=np.float32, copy=False)


def test_numpy_asarray_of_a_tensor_that_requires_gradients_names_detach():
    t = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"detach\(\)"):
        np.asarray(t)
    np.testing.assert_array_equal(np.asarray(t.detach()), [1.0, 2.0])


def test_numpy_asarray_of_a_device_tensor_is_refused_not_copied_silently():
    t = mg.tensor([1.0, 2.0], device="strict:device1")
    with pytest.raises(TypeError, match=r"strict:device1.*\.numpy\(\)"):
        np.asarray(t)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


def test_a_list_of_tensors_given_to_numpy_is_refused_not_an_object_array():
    with pytest.raises(TypeError, match="detach"):
        np.asarray([mg.tensor(1.0, requires_grad=True), mg.tensor(2.0, requires_grad=True)])
    assert np.asarray([mg.tensor(1.0), mg.tensor(2.0)]).dtype == np.float64


# -- DLPack ---------------------------------------------------------------------------------------

class _Producer:
    """An array of a library multigrad does not know, on DLPack device ``(kind, index)``."""

    def __init__(self, kind, index=0):
        self.kind, self.index = kind, index

    def __dlpack_device__(self):
        return self.kind, self.index

    def __dlpack__(self, **kwargs):
        raise RuntimeError("the producer was asked for its memory")


def test_from_dlpack_takes_cuda_memory_to_a_cuda_device_and_refuses_other_kinds():
    # device type 2 is CUDA: without CuPy the CUDA device is refused by name; with it, CuPy
    # asks the producer for its memory
    with pytest.raises(Exception, match=r"device 'cuda'|asked for its memory"):
        mg.from_dlpack(_Producer(2))
    with pytest.raises(ValueError, match="from_dlpack: the array is on DLPack device type 4"):
        mg.from_dlpack(_Producer(4))


def test_from_dlpack_of_a_tensor_or_of_an_own_library_array_is_asarray():
    t = mg.tensor([1.0, 2.0], requires_grad=True)
    assert mg.from_dlpack(t) is t  # still on the graph
    previous = mg.get_default_device()
    mg.set_default_device("strict:device1")
    try:  # NumPy data goes to the default device, as asarray takes it
        assert mg.from_dlpack(np.ones(2)).device == "strict:device1"
    finally:
        mg.set_default_device(previous)
