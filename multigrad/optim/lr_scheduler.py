"""Learning-rate schedules: step decay, cosine annealing, and linear warm-up.

A scheduler sets ``group["lr"]`` of each of its optimiser's parameter groups from that group's
base learning rate (the ``lr`` it had when the first scheduler was attached, kept as
``group["initial_lr"]``) and the number of ``step()`` calls so far. Each schedule is a closed
form of that count, so a scheduler's state is just the count and the base rates, and a
schedule can hand over to another (``LinearWarmup(..., after=...)``).

Call ``scheduler.step()`` once per epoch (or per batch, as the schedule is meant), after
``optimizer.step()``.
"""

from __future__ import annotations

import math

from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "LinearWarmup"]


class LRScheduler:
    """Base class of the schedules: subclasses define ``lr_at(base_lr, step)``.

    Parameters
    ----------
    optimizer : Optimizer
        The optimiser whose learning rates this schedule sets; they are set for step 0 at once.
    """

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_step = 0
        self._apply()

    def lr_at(self, base_lr: float, step: int) -> float:
        """The learning rate after ``step`` calls of ``step()``, for a group starting at
        ``base_lr``."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance the schedule by one step and set the optimiser's learning rates."""
        self.last_step += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group, as last set."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def _apply(self) -> None:
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base_lr, self.last_step)

    def state_dict(self) -> dict:
        """The schedule's state: the step count and the base learning rates."""
        return {"last_step": self.last_step, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state_dict: dict) -> None:
        """Resume a schedule saved by ``state_dict`` (and set the learning rates for it)."""
        name = f"{type(self).__name__}.load_state_dict"
        expected = set(self.state_dict())
        if not isinstance(state_dict, dict) or set(state_dict) != expected:
            found = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(f"{name}: expected a dict with the keys "
                             f"{', '.join(map(repr, sorted(expected)))}, got {found}")
        if len(state_dict["base_lrs"]) != len(self.optimizer.param_groups):
            raise ValueError(f"{name}: the state dict has base learning rates for "
                             f"{len(state_dict['base_lrs'])} parameter group(s), the optimiser "
                             f"has {len(self.optimizer.param_groups)}")
        self.last_step = int(state_dict["last_step"])
        self.base_lrs = list(state_dict["base_lrs"])
        self._apply()


def _positive_int(value, what: str, owner: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner}: {what} must be a positive integer, got {value!r}")
    return value


class StepLR(LRScheduler):
    r"""Decay by ``gamma`` every ``step_size`` steps: :math:`\mathrm{lr}_t =
    \mathrm{lr}_0 \gamma^{\lfloor t / \mathrm{step\_size} \rfloor}`.

    Parameters
    ----------
    optimizer : Optimizer
        The optimiser to schedule.
    step_size : int
        Steps between decays.
    gamma : float
        The factor applied at each decay.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        self.step_size = _positive_int(step_size, "step_size", "StepLR")
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr: float, step: int) -> float:
        return base_lr * self.gamma ** (step // self.step_size)


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing (Loshchilov and Hutter's SGDR, 2017, without restarts).

    :math:`\mathrm{lr}_t = \eta_{\min} + (\mathrm{lr}_0 - \eta_{\min})
    (1 + \cos(\pi t / T_{\max})) / 2` for :math:`t \le T_{\max}`, and :math:`\eta_{\min}`
    after.

    Parameters
    ----------
    optimizer : Optimizer
        The optimiser to schedule.
    T_max : int
        Steps from the base learning rate down to ``eta_min``.
    eta_min : float
        The final learning rate.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        self.T_max = _positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = eta_min
        super().__init__(optimizer)

    def lr_at(self, base_lr: float, step: int) -> float:
        progress = min(step, self.T_max) / self.T_max
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2


class LinearWarmup(LRScheduler):
    r"""Raise the learning rate linearly over ``warmup_steps`` steps, then follow ``after``.

    :math:`\mathrm{lr}_t = \mathrm{lr}_0 (f + (1 - f)\, t / \mathrm{warmup\_steps})` for
    :math:`t < \mathrm{warmup\_steps}` with ``start_factor`` :math:`f`; from then on the
    schedule ``after`` (counted from the end of the warm-up), or the base rate.

    Parameters
    ----------
    optimizer : Optimizer
        The optimiser to schedule.
    warmup_steps : int
        Length of the warm-up.
    start_factor : float
        The fraction of the base learning rate at step 0.
    after : LRScheduler, optional
        The schedule that takes over after the warm-up, made on the same optimiser (this
        scheduler drives it: call only this one's ``step``).
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, start_factor: float = 0.0,
                 after: LRScheduler | None = None):
        self.warmup_steps = _positive_int(warmup_steps, "warmup_steps", "LinearWarmup")
        if not 0.0 <= start_factor <= 1.0:
            raise ValueError(f"LinearWarmup: start_factor must be in [0, 1], got {start_factor!r}")
        if after is not None and after.optimizer is not optimizer:
            raise ValueError("LinearWarmup: the schedule 'after' must drive the same optimiser")
        self.start_factor = start_factor
        self.after = after
        super().__init__(optimizer)

    def lr_at(self, base_lr: float, step: int) -> float:
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return base_lr * (self.start_factor + (1 - self.start_factor) * fraction)
        if self.after is None:
            return base_lr
        return self.after.lr_at(base_lr, step - self.warmup_steps)
