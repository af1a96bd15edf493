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
    """`update(name)` after each item (or `update(name, n)` after n); redraws one line on a
    terminal, else logs every ~10 %. total 0 = unknown (a video that does not declare its
    frame count): count and rate, no ETA. `unit` names the items in the rate (img/s, frames/s)."""

    def __init__(self, total: int, stream=None, label: str = "", unit: str = "img"):
        self.total, self.done, self.label, self.unit = total, 0, label, unit
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._next_log = 0

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if not self.total:
            return f"{self.label}[{self.done}] {rate:.2f} {self.unit}/s"
        eta = max(self.total - self.done, 0) / rate if rate > 0 else 0.0
        pct = 100 * self.done / self.total
        width = len(str(self.total))
        return (f"{self.label}[{self.done:>{width}}/{self.total}] {pct:5.1f}%  "
                f"{rate:.2f} {self.unit}/s  ETA {format_eta(eta)}")

    def update(self, name: str = "", n: int = 1) -> None:
        self.done += n
        if self.tty:
            self.stream.write("\r" + self.line() + f"  {name[-40:]:<40}")
            if self.done == self.total:
                self.stream.write("\n")
        elif self.done >= self._next_log or self.done == self.total:
            self.stream.write(self.line() + "\n")
            self._next_log = self.done + max(1, (self.total or 100) // 10)
        self.stream.flush()

    def finish(self) -> None:
        """Ends a terminal's progress line where the total was not reached (or unknown)."""
        if self.tty and self.done != self.total:
            self.stream.write("\n")
            self.stream.flush()
