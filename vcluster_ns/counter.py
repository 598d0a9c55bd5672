"""Progress of many like steps: a count, a rate and the time left.

On 300 nodes a line per node is noise; ``Counter`` turns ticks into a line
such as ``nodes added: 120/299, 0.9/s, about 3m20s left`` at most every
``every`` seconds (and at the end).  The rate is over the ticks so far, so
a slow start (the first node adds) makes the estimate pessimistic, not wild.
"""

from __future__ import annotations

import time
from typing import Callable


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Counter:
    def __init__(self, total: int, what: str, emit: Callable[[str], None],
                 every: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.total, self.what, self.emit = total, what, emit
        self.every, self.clock = every, clock
        self.count = 0
        self.start = self.last = clock()

    def line(self) -> str:
        elapsed = self.clock() - self.start
        text = f"{self.what}: {self.count}/{self.total}"
        if self.count and elapsed > 0:
            rate = self.count / elapsed
            text += f", {rate:.2f}/s"
            if self.count < self.total:
                text += f", about {duration((self.total - self.count) / rate)} left"
            else:
                text += f", in {duration(elapsed)}"
        return text

    def tick(self, n: int = 1) -> None:
        self.count += n
        now = self.clock()
        if self.count >= self.total or now - self.last >= self.every:
            self.last = now
            self.emit(self.line())

    def done(self) -> None:
        """The last line, unless the last tick said it already."""
        if self.count < self.total:
            self.emit(self.line())
