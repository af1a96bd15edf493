"""A dependency-free progress bar for per-file work (count, images/s, ETA), and the ETA format
the training log shares."""

from __future__ import annotations

import sys
import time


def format_eta(seconds: float) -> str:
    """Seconds left -> "4m05s", or "2h07m" from an hour on."""
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Progress:
    """`update(name)` after each item; redraws one line on a terminal, else logs every ~10 %."""

    def __init__(self, total: int, stream=None, label: str = ""):
        self.total, self.done, self.label = total, 0, label
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._next_log = 0

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        pct = 100 * self.done / max(self.total, 1)
        width = len(str(self.total))
        return (f"{self.label}[{self.done:>{width}}/{self.total}] {pct:5.1f}%  "
                f"{rate:.2f} img/s  ETA {format_eta(eta)}")

    def update(self, name: str = "") -> None:
        self.done += 1
        if self.tty:
            self.stream.write("\r" + self.line() + f"  {name[-40:]:<40}")
            if self.done == self.total:
                self.stream.write("\n")
        elif self.done >= self._next_log or self.done == self.total:
            self.stream.write(self.line() + "\n")
            self._next_log = self.done + max(1, self.total // 10)
        self.stream.flush()
