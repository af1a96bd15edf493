"""SIGINT / SIGTERM -> a flag the training loop checks between steps.

The first signal lets the current step finish, then the loop saves a checkpoint and
returns; a second Ctrl-C aborts at once. Preemptible machines send SIGTERM, so a
rerun of the same command resumes where the signal came.
"""

from __future__ import annotations

import signal
import threading

from absl import logging


class StopRequest:
    """Context manager; `signum` is None until a stop signal arrives."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum: int | None = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        logging.warning("signal %d received: saving a checkpoint after this step "
                        "(Ctrl-C again to abort without saving)", signum)

    def __enter__(self) -> "StopRequest":
        # Handlers can only be installed from the main thread (not e.g. in a notebook worker).
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
