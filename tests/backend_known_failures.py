"""What each named backend cannot do, with the reason: the one list of known failures.

``KNOWN_FAILURES[library]`` holds ``(pattern, reason)`` pairs; a pattern matches test node ids
(``*`` for any text, every other character for itself). ``pytest --backend NAME`` marks the
matching cases of that backend as strict xfails (conftest.py), so they are reported with their
reasons, and one that starts passing fails the run until its entry is removed.
"""

from __future__ import annotations

_COMPILED_STD = "tests/test_compile_ops.py::test_compiled_op_equals_eager[torch-cpu-{}-std[{}]]"

# measured on the whole backend suite (ci/cell.sh dask), session of 2026-12-02; the same cases
# fail in float32 (pytest --backend dask runs both), 2026-12-03
_DASK_FILES = {"compiled": "tests/test_compile_ops.py::test_compiled_op_equals_eager",
               "forward": "tests/test_op_gradients.py::test_forward",
               "jvp": "tests/test_op_gradients.py::test_jvp_matches_finite_differences",
               "transpose": "tests/test_op_gradients.py::test_transpose_identity_and_placement",
               "vjp": "tests/test_op_gradients.py::test_vjp_matches_finite_differences"}
_ALL = tuple(_DASK_FILES)
_DERIVED = ("compiled", "jvp", "transpose", "vjp")
_DASK_REASONS = {
    'mask': ('a boolean mask makes sizes unknown (nan): the gradient then indexes by integer '
             'arrays, which Dask refuses on unknown chunks'),
    'repeat': ("repeat with an array of counts: the result's length is unknown until computed, "
               "and multigrad refuses it on Dask with a NotImplementedError naming repeat"),
    'sized': ("nonzero and unique_* give results of sizes unknown until computed on Dask: the "
              "loop the test compares with cannot stack unique_all's, and vmap's rule cannot "
              "regroup nonzero's coordinates per example"),
}
_DASK_CASES = {
    'mask': [
        *((f'getitem-mask{kind}[{shape}]', _DERIVED)
          for kind in ('', '-complex') for shape in ('34x34', '34x3')),
        ('getitem-mask-after[23x3]', _DERIVED),
        ('setitem-mask-rows[34x4x3]', _ALL),
        ('setitem-mask-rows-complex[34x4x3]', _ALL),
    ],
    'repeat': [(case, _ALL) for case in ('repeat-array[23]', 'repeat-array-complex[23]',
                                         'repeat-array-flat[22]')],
}

# pytest --backend runs float32 too (measured 2026-12-03): PyTorch's and JAX's float32 kernels
# order eig's eigenvalues otherwise than NumPy's, and round det at a singular complex matrix
# beyond the spec's absolute tolerance
_FLOAT32_LINALG = [
    *((f"tests/test_op_gradients.py::test_forward[{{}}-cpu-float32-{case}]",
       "eig and eigvals give the eigenvalues in the order of the library's kernel, which the "
       "standard leaves open; in float32 PyTorch's and JAX's differ from NumPy's, which the "
       "spec compares with in order (float64 agrees)")
      for case in ("eigvals[244]", "eig[244]", "eigvals-complex[33]", "eig-complex[33]")),
    ("tests/test_op_gradients.py::test_forward[{}-cpu-float32-det-singular-complex[344]]",
     "det of a stack of singular complex 4x4 matrices in float32: the library's LU leaves "
     "2.7e-4 where NumPy's float32 leaves 2e-13, above the spec's absolute 1e-4 (float32 "
     "rounding at the matrices' scale; float64 agrees)"),
]

KNOWN_FAILURES: dict[str, list[tuple[str, str]]] = {
    "torch": [
        *((pattern.format("torch"), reason) for pattern, reason in _FLOAT32_LINALG),
        # (vmap's rule for unique_all uses sorts, not the namespace's unique_all: a vmap test
        # that compares with no unbatched call passes)
        *((f"tests/{test}[torch-*unique_all*",
           "array-api-compat's PyTorch namespace has no unique_all (NotImplementedError, "
           "pytorch/pytorch#36748); unique_values, unique_counts and unique_inverse work")
          for test in ("test_op_gradients.py::*", "test_compile_ops.py::*",
                       "test_vmap_ops.py::test_rule_branches_under_vmap",
                       "test_vmap_ops.py::test_sized_by_values_under_vmap_of_one_and_of_no_"
                       "example")),
        ("tests/test_reductions_special.py::test_index_count_and_set_results_do_not_require_grad"
         "[torch-*", "calls unique_all, which array-api-compat's PyTorch namespace lacks"),
        ("tests/test_reductions_special.py::test_unique_results_are_named_tuples[torch-*",
         "calls unique_all, which array-api-compat's PyTorch namespace lacks"),
        *((_COMPILED_STD.format(dtype, case),
           "the compiled gradient of std differs from the eager one by one unit in the last "
           "place (5.6e-17) on PyTorch, not on NumPy; cause not established (the same kernels "
           "run in both)")
          for dtype, case in [("float64", "23|axis=None,correction=0"),
                              ("float64", "23|axis=-1,keepdims=True,correction=0"),
                              ("float64", "23|axis=(0, 1),correction=0"),
                              ("float64", "232|axis=(0, 1),correction=0"),
                              ("float64", "232|axis=(0, 1),correction=1"),
                              ("float32", "23|axis=-1,keepdims=True,correction=0"),
                              ("float32", "232|axis=(0, 1),correction=1")]),
        ("tests/test_compile_ops.py::test_compiled_op_equals_eager"
         "[torch-cpu-float64-std-default[23]]",
         "as std's other compiled cases: one unit in the last place (5.6e-17) on PyTorch"),
        *((f"tests/test_special_points.py::test_second_derivative[torch-cpu-float64-{case}]",
           "det's second derivative at a singular matrix: the analytic value is the exact one "
           "(entries -1 and 0 to 1e-15) but the test's central differences of the gradient "
           "are off by 5.6e-5 on PyTorch (1e-5 allowed), not on NumPy; cause not established")
          for case in ("det at a rank-two 3x3", "det at a singular matrix with a rounded det",
                       "det near a singular matrix with large entries",
                       "det of a batch, one singular")),
    ],
    "jax": [
        *((pattern.format("jax"), reason) for pattern, reason in _FLOAT32_LINALG),
        *((f"tests/test_op_gradients.py::test_forward[jax-cpu-float*-{op}-lower-triangle{kind}"
           f"[{case}]]",
           "JAX's cholesky, eigh and eigvalsh read both triangles of the matrix (they "
           "symmetrize it), where NumPy and the tests read the lower one only; the standard "
           "leaves a non-Hermitian input undefined")
          for kind in ("", "-complex")
          for op, cases in (("cholesky", ("244|upper=False", "244|upper=True", "33|upper=False",
                                          "33|upper=True")),
                            ("eigh", ("244", "33")), ("eigvalsh", ("244", "33")))
          for case in cases),
        ("tests/test_complex.py::test_complex_expm1_and_tanh_special_cases[jax-cpu-float*]",
         "JAX's complex exp is nan at -inf + inf j and -inf + nan j, where the standard (and "
         "NumPy) give 0: expm1's special cases there come from exp"),
        ("tests/test_special_points.py::test_complex_first_derivative[jax-cpu-float64-sqrt on "
         "the cut, -0i]",
         "JAX's sqrt ignores the sign of a zero imaginary part on the branch cut (sqrt(-4 - 0j) "
         "is 2j where the standard gives -2j), and the derivative follows its value"),
        *((f"tests/test_special_points.py::test_second_derivative[jax-cpu-float64-{case}]",
           "det's second derivative at a singular matrix: as on PyTorch, the test's central "
           "differences of the gradient (JAX's LU-based det near singular) miss the analytic "
           "value by more than 1e-5; on NumPy they agree")
          for case in ("det at a rank-two 3x3", "det at a singular matrix with a rounded det",
                       "det near a singular matrix with large entries",
                       "det of a batch, one singular")),
    ],
    "dask": [
        *((f"{_DASK_FILES[test]}[dask-float*-{case}]", _DASK_REASONS[why])
          for why, cases in _DASK_CASES.items() for case, tests in cases for test in tests),
        *((f"tests/test_indexing_special.py::test_setitem_keys_write_and_differentiate_as_numpy"
           f"[dask-*-{case}]", _DASK_REASONS["mask"])
          for case in ("mask-values", "mask-rows-scalar")),
        ("tests/test_vmap_ops.py::test_rule_branches_under_vmap[dask-float64-repeat-counts-per-"
         "example]", _DASK_REASONS["repeat"]),
        ("tests/test_vmap_ops.py::test_rule_branches_under_vmap[dask-float64-unique_all-repeats]",
         _DASK_REASONS["sized"]),
        ("tests/test_vmap_ops.py::test_sized_by_values_under_vmap_of_one_and_of_no_example"
         "[dask-float64-nonzero]", _DASK_REASONS["sized"]),
    ],
}
