"""Op specs for the statistical functions (reductions)."""

import numpy as np

import multigrad as mg
from . import OpSpec

AXES = [{"axis": None}, {"axis": 0}, {"axis": -1, "keepdims": True}, {"axis": (0, 1)}]

SPECS = [
    OpSpec("sum", mg.sum, np.sum, [((2, 3),)], params=AXES),
]
