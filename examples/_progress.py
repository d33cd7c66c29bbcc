"""A small text progress bar for the examples' training loops (no tqdm dependency).

On a terminal the bar redraws itself in place after every step; when the output goes to a file
or a pipe (a test, a CI log) it prints one full line at every tenth of the way instead, so logs
stay short and readable. Values set with ``bar.show(loss=...)`` appear after the bar.

    bar = Progress(range(epochs), "train")
    for epoch in bar:
        ...
        bar.show(loss=loss.item(), acc=accuracy)
"""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TextIO, TypeVar

__all__ = ["Progress"]

Item = TypeVar("Item")


class Progress:
    """Iterate over ``iterable`` while drawing ``desc [#####.....] k/n  name=value ...``.

    Parameters
    ----------
    iterable : iterable
        What the loop runs over; ``total`` defaults to its ``len()``.
    desc : str
        A label printed before the bar.
    total : int, optional
        The number of items, for iterables without a length.
    width : int
        Characters in the bar itself.
    stream : text file, optional
        Where to draw (default ``sys.stdout``).
    """

    def __init__(self, iterable: Iterable[Item], desc: str = "", total: int | None = None,
                 width: int = 30, stream: TextIO | None = None):
        self._iterable = iterable
        self.total = len(iterable) if total is None else total  # type: ignore[arg-type]
        if self.total < 1:
            raise ValueError(f"Progress: nothing to iterate over (total={self.total})")
        self.desc, self.width = desc, width
        self.stream = sys.stdout if stream is None else stream
        self.done = 0
        self._values: dict[str, object] = {}
        self._start = time.perf_counter()
        self._interactive = self.stream.isatty()
        self._last_tenth = -1

    def show(self, **values: object) -> None:
        """Values to print after the bar (floats with 4 significant digits), from now on."""
        self._values.update(values)

    def _line(self) -> str:
        filled = self.width * self.done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        shown = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in self._values.items())
        seconds = time.perf_counter() - self._start
        return f"{self.desc} [{bar}] {self.done}/{self.total} {seconds:.1f}s  {shown}".rstrip()

    def _draw(self) -> None:
        if self._interactive:
            # \r returns to the line's start; padding erases a longer previous line
            self.stream.write("\r" + self._line().ljust(100))
            if self.done == self.total:
                self.stream.write("\n")
        else:
            tenth = 10 * self.done // self.total
            if tenth == self._last_tenth:
                return
            self._last_tenth = tenth
            self.stream.write(self._line() + "\n")
        self.stream.flush()

    def __iter__(self) -> Iterator[Item]:
        for item in self._iterable:
            yield item
            self.done += 1
            self._draw()
