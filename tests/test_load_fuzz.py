"""Hostile and broken files for ``multigrad.load``.

Every file that is not what ``save`` wrote is refused with ``SerializationError`` (a
``ValueError``), never MemoryError, OverflowError, RecursionError or anything else, and the
refusal allocates no more than a small multiple of the file's size, whatever sizes the header
claims. The hand-built files come first (one per lie a header can tell), then a fuzz:
truncation at every offset, bit flips, and headers mangled by hypothesis. The normal run takes
a few seconds; ``-m slow`` runs every single-bit flip and many more mangled headers.
"""

from __future__ import annotations

import json
import os
import random
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import multigrad as mg
from multigrad.serialization import MAGIC, MAX_DEPTH, MAX_NDIM

PREAMBLE = len(MAGIC) + 8


def _bytes(header, payload: bytes = b"", length: int | None = None) -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return MAGIC + struct.pack("<Q", len(text) if length is None else length) + text + payload


def _header(tree=None, **entry) -> dict:
    tensor = {"dtype": "float32", "shape": [2, 3], "device": "cpu", **entry}
    return {"format": "multigrad", "version": 1, "tensors": [tensor],
            "tree": tree if tree is not None else {"dict": [["w", {"tensor": 0}]]}}


def _write(path, data: bytes) -> None:
    """Overwrite ``path`` in place: truncating on open is slow on some file systems."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644), "wb") as f:
        f.write(data)
        f.truncate()


def _refused(path, data: bytes, match: str) -> None:
    """``load`` refuses ``data`` with SerializationError matching ``match``, allocating less
    than four times the file's size (plus 1 MiB for the interpreter's own bookkeeping)."""
    _write(path, data)
    tracemalloc.start()
    try:
        with pytest.raises(mg.SerializationError, match=match) as info:
            mg.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(info.value, ValueError)
    assert peak < 4 * len(data) + 2**20, f"refusing a {len(data)}-byte file allocated {peak} bytes"


# -- lies about sizes --------------------------------------------------------------------------

@pytest.mark.parametrize("shape, dtype, payload, match", [
    # 4 TiB of float32: a plausible array, but the file holds 24 bytes
    ([2**40], "float32", b"\0" * 24, r"\['w'\]: expected 4398046511104 bytes .* file has 24 "
                                      r"\(it is truncated\)"),
    # 2 GiB: what the loader used to allocate before it noticed the file was short
    ([2**28], "float64", b"\0" * 16, r"expected 2147483648 bytes .* file has 16"),
    # 2**80 elements: more bytes than any array can have
    ([2**40, 2**40], "float32", b"", r"shape \[1099511627776, 1099511627776\] of float32 is "
                                     "too large for any array"),
    ([2**4000], "uint8", b"", "too large for any array"),
    # empty, yet NumPy cannot make it: the other axes are too long
    ([0, 2**62], "float64", b"", "too large for any array"),
    ([1] * (MAX_NDIM + 1), "float32", b"\0" * 4, f"shape has {MAX_NDIM + 1} axes; at most "
                                                 f"{MAX_NDIM}"),
])
def test_shapes_larger_than_the_file_are_refused_before_allocating(
        tmp_path, shape, dtype, payload, match):
    _refused(tmp_path / "big.mg", _bytes(_header(shape=shape, dtype=dtype), payload), match)


@pytest.mark.parametrize("length", [2**63, 2**64 - 1, 2**31, 1000])
def test_header_lengths_beyond_the_file_are_refused_before_reading(tmp_path, length):
    _refused(tmp_path / "h.mg", _bytes(b'{"format": "multigrad"}', length=length),
             f"the header should have {length} bytes, the file has 23")


def test_empty_tensors_with_long_axes_still_load(tmp_path):
    # nothing to allocate, and within NumPy's limits: a valid (if odd) file
    path = tmp_path / "empty.mg"
    path.write_bytes(_bytes(_header(shape=[0, 2**40], dtype="float64")))
    assert mg.load(path)["w"].shape == (0, 2**40)


# -- lies about structure ----------------------------------------------------------------------

def _nested(depth: int) -> bytes:
    """A header whose tree is ``depth`` lists deep, as bytes (too deep for json.dumps)."""
    tree = b'{"list": [' * depth + b'{"value": 1}' + b"]}" * depth
    return (b'{"format": "multigrad", "version": 1, "tensors": [], "tree": ' + tree + b"}")


@pytest.mark.parametrize("depth, match", [
    (100_000, "nested too deeply"),            # json itself would recurse 200,000 deep
    (MAX_DEPTH + 1, f"nested more than {MAX_DEPTH} containers deep"),
])
def test_deep_trees_are_refused_without_recursion_errors(tmp_path, depth, match):
    _refused(tmp_path / "deep.mg", _bytes(_nested(depth)), match)


def test_trees_at_the_depth_limit_round_trip_and_deeper_ones_are_not_saved(tmp_path):
    obj = leaf = []
    for _ in range(MAX_DEPTH - 1):
        leaf.append([])
        leaf = leaf[0]
    leaf.append(mg.tensor([1.0]))
    mg.save(obj, tmp_path / "ok.mg")
    back = mg.load(tmp_path / "ok.mg")
    for _ in range(MAX_DEPTH - 1):
        back = back[0]
    assert back[0].numpy().tolist() == [1.0]
    leaf.append([[]])
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} containers deep"):
        mg.save(obj, tmp_path / "deep.mg")
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="does a container hold itself"):
        mg.save({"a": loop}, tmp_path / "loop.mg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.mg"]


@pytest.mark.parametrize("header, match", [
    (_header(shape=[2, -3]), r"shape \[2, -3\] is not a list of non-negative integers"),
    (_header(shape=[True, 3]), "is not a list of non-negative integers"),
    (_header(shape=[2.0, 3]), "is not a list of non-negative integers"),
    (_header(shape="2, 3"), "is not a list of non-negative integers"),
    (_header(shape=None), "is not a list of non-negative integers"),
    (_header(dtype="float128"), "unknown dtype 'float128'"),
    (_header(dtype=["float32"]), r"unknown dtype \['float32'\]"),
    (_header(device=7), "device 7 is not a device name"),
    (_header(requires_grad=1), "requires_grad must be true or false"),
    (_header(dtype="int32", requires_grad=True), "true only for a floating-point dtype"),
    (_header(tree={"list": [{"tensor": 0}, {"tensor": 0}]}), "bad or repeated tensor index 0"),
    (_header(tree={"tensor": True}), "bad or repeated tensor index True"),
    (_header(tree={"tensor": -1}), "bad or repeated tensor index -1"),
    (_header(tree={"tensor": 0.0}), "bad or repeated tensor index 0.0"),
    (_header(tree={"tensor": 3}), r"the tree refers to tensors \[3\], the header lists 1"),
    (_header(tree={"list": []}), r"the tree refers to tensors \[\], the header lists 1"),
    (_header(tree={"dict": [[1.5, {"tensor": 0}]]}), r"expected a list of \[key, value\] pairs"),
    (_header(tree={"dict": [[True, {"tensor": 0}]]}), r"expected a list of \[key, value\] pairs"),
    (_header(tree={"dict": {"w": {"tensor": 0}}}), r"expected a list of \[key, value\] pairs"),
    (_header(tree={"tuple": {"tensor": 0}}), "expected a list of items"),
    (_header(tree={"value": [1, 2]}), "unknown entry 'value'"),
    (_header(tree=[{"tensor": 0}]), "expected an object with one of the entries"),
    ({**_header(), "tensors": [5]}, "expected an object with 'dtype', 'shape' and 'device'"),
    ({**_header(), "tensors": {"0": {}}}, "lacks 'tree' or its list of 'tensors'"),
    ({**_header(), "version": True}, "format version True"),
    ({**_header(), "version": 1.0}, "format version 1.0"),
    ({**_header(), "format": None}, "does not say 'format': 'multigrad'"),
    ([], "does not say 'format': 'multigrad'"),
    (b'{"format": "multigrad", "version": ' + b"9" * 5000 + b"}", "not valid JSON"),
    (b'{"format": "multigrad\xff"}', "not valid JSON"),
    (b'{"format": "multigrad", "version": 1, "tensors": [], "tree": {"value": 1}',
     "not valid JSON"),
])
def test_inconsistent_headers_are_named(tmp_path, header, match):
    _refused(tmp_path / "bad.mg", _bytes(header, b"\0" * 24), match)


def test_messages_quote_a_bounded_excerpt_of_what_they_found(tmp_path):
    huge = "x" * 1_000_000
    with pytest.raises(mg.SerializationError) as info:
        (tmp_path / "f.mg").write_bytes(_bytes(_header(dtype=huge), b"\0" * 24))
        mg.load(tmp_path / "f.mg")
    assert "unknown dtype 'xxx" in str(info.value) and len(str(info.value)) < 1000


@pytest.mark.parametrize("name", ["tpu:0", "cuda:\u00b2", "strict:device3"])
def test_a_device_that_is_not_here_is_a_device_error_not_a_damaged_file(tmp_path, name):
    # the file is sound; this machine lacks the device: DeviceError says how to load elsewhere
    path = tmp_path / "f.mg"
    path.write_bytes(_bytes(_header(device=name), b"\0" * 24))
    with pytest.raises(mg.DeviceError, match=f"saved on {name!r}.*pass device="):
        mg.load(path)
    assert mg.load(path, device="cpu")["w"].shape == (2, 3)


# -- the fuzz ------------------------------------------------------------------------------------

def _valid_file(tmp_path) -> bytes:
    """A small file with the format's every feature: dtypes, nesting, keys, plain values."""
    obj = {"model": {"w": mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True),
                     "b": mg.tensor(np.array([1.5, -2.0], dtype=np.float32))},
           "steps": mg.tensor(np.array([3, 4], dtype=np.int64)),
           "mask": mg.tensor(np.array([True, False])),
           "empty": mg.zeros((0, 4)),
           7: [1, 2.5, None, "text", (True, mg.tensor(np.array(2 + 1j)))]}
    mg.save(obj, tmp_path / "valid.mg")
    return (tmp_path / "valid.mg").read_bytes()


def _outcome(path, data: bytes, both: bool = True) -> str:
    """Load ``data`` onto cpu and (if ``both``) onto the devices it names: each must load, or
    be refused with SerializationError (DeviceError only for a device the file names)."""
    _write(path, data)
    try:
        mg.load(path, device="cpu")
    except mg.SerializationError:
        result = "refused"
    else:
        result = "loaded"
    if not both:
        return result
    try:
        mg.load(path)
    except mg.SerializationError:
        assert result == "refused"
    except mg.DeviceError as err:
        assert result == "loaded" and "which is not available here" in str(err)
    else:
        assert result == "loaded"
    return result


def test_every_truncation_is_refused(tmp_path):
    data = _valid_file(tmp_path)
    assert mg.load(tmp_path / "valid.mg")[7][4][1].numpy() == 2 + 1j
    for n in range(len(data)):
        assert _outcome(tmp_path / "cut.mg", data[:n], both=False) == "refused", n


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def test_random_bit_flips_load_or_are_refused(tmp_path):
    data = _valid_file(tmp_path)
    rng = random.Random(16)
    outcomes = {_outcome(tmp_path / "flip.mg", _flip(data, rng.randrange(8 * len(data))))
                for _ in range(300)}
    assert outcomes == {"loaded", "refused"}  # flips in the values load; most others do not


@pytest.mark.slow
def test_every_single_bit_flip_loads_or_is_refused(tmp_path):
    data = _valid_file(tmp_path)
    for bit in range(8 * len(data)):
        _outcome(tmp_path / "flip.mg", _flip(data, bit))


# JSON values that a mangled header may hold where the valid one has something else
_json = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.text(max_size=8)
    | st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from([0, 1, 2**63, -1]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["tensor", "dict", "list", "tuple", "value", "dtype", "shape", "x"]),
        inner, max_size=2),
    max_leaves=12)


def _places(node, path=()):
    """Every key path inside a JSON document."""
    yield path
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
        node, list) else ()
    for key, child in items:
        yield from _places(child, path + (key,))


def _replaced(doc, path, value):
    if not path:
        return value
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = _replaced(doc[path[0]], path[1:], value)
    return copy


def _mangle_check(path, header: dict, places: list, payload: bytes, choice: int, value,
                  length_delta: int) -> None:
    """Replace one place of ``header`` by ``value``, misstate the header's length by
    ``length_delta``, and check the outcome and the memory it took."""
    text = json.dumps(_replaced(header, places[choice % len(places)], value)).encode()
    mangled = _bytes(text, payload, max(0, len(text) + length_delta))
    tracemalloc.start()
    try:
        _outcome(path, mangled)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(mangled) + 2**20


@pytest.mark.parametrize("examples", [
    150, pytest.param(1500, marks=pytest.mark.slow, id="slow-1500")])
def test_mangled_headers_load_or_are_refused(tmp_path, examples):
    data = _valid_file(tmp_path)
    length = struct.unpack("<Q", data[len(MAGIC):PREAMBLE])[0]
    header = json.loads(data[PREAMBLE:PREAMBLE + length])
    places = list(_places(header))

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(choice=st.integers(0, 10**6), value=_json,
           length_delta=st.sampled_from([0, 0, 0, 1, -1, 2**40, 2**63]))
    def check(choice, value, length_delta):
        _mangle_check(tmp_path / "mangled.mg", header, places, data[PREAMBLE + length:],
                      choice, value, length_delta)

    check()
