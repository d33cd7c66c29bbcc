"""Optimisers, learning-rate schedules and gradient clipping.

Every optimiser takes the parameters to update (an iterable of leaf tensors, such as a
module's ``parameters()``, or of parameter-group dicts), creates its state on each parameter's
device, and updates with array API expressions under ``no_grad``; ``state_dict`` and
``load_state_dict`` save and restore it (with ``multigrad.save`` / ``multigrad.load``).
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm_
from .lr_scheduler import CosineAnnealingLR, LinearWarmup, LRScheduler, StepLR
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "CosineAnnealingLR", "LRScheduler", "LinearWarmup",
           "Optimizer", "RMSprop", "SGD", "StepLR", "clip_grad_norm_", "lr_scheduler"]
