"""Op specs for the elementwise functions."""

import numpy as np

import multigrad as mg
from . import OpSpec

UNARY_SHAPES = [((),), ((3,),), ((2, 3),)]
BINARY_SHAPES = [((3,), (3,)), ((2, 3), (2, 3)), ((3, 1), (1, 4)), ((), (2, 3)), ((2, 3), ())]

SPECS = [
    OpSpec("add", mg.add, np.add, BINARY_SHAPES),
    OpSpec("subtract", mg.subtract, np.subtract, BINARY_SHAPES),
    OpSpec("multiply", mg.multiply, np.multiply, BINARY_SHAPES),
    OpSpec("divide", mg.divide, np.divide, BINARY_SHAPES, domain=[(-2, 2), (0.5, 2)]),
    OpSpec("negative", mg.negative, np.negative, UNARY_SHAPES),
    OpSpec("positive", mg.positive, np.positive, UNARY_SHAPES),
    OpSpec("exp", mg.exp, np.exp, UNARY_SHAPES),
    OpSpec("log", mg.log, np.log, UNARY_SHAPES, domain=(0.1, 4.0)),
    OpSpec("tanh", mg.tanh, np.tanh, UNARY_SHAPES),
]
