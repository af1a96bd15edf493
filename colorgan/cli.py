"""What every entry script shares: quiet TensorFlow start-up and one-line user errors."""

from __future__ import annotations

import os
import sys
from typing import Callable

# Before TensorFlow is imported: hide its C++ info chatter (warnings still show) and
# the CUDA probe of the GPU build on machines with no GPU driver.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")


def run(main: Callable[[list[str]], int | None]) -> None:
    """absl.app.run(main), turning UserError into `<script>: error: <message>` and exit 2."""
    from absl import app, logging

    from colorgan.errors import UserError

    def wrapped(argv):
        logging.set_verbosity(logging.INFO)
        try:
            return main(argv)
        except UserError as e:
            print(f"{os.path.basename(sys.argv[0])}: error: {e}", file=sys.stderr)
            return 2
        except FloatingPointError as e:  # training diverged: the message names the good checkpoint
            print(f"{os.path.basename(sys.argv[0])}: error: {e}", file=sys.stderr)
            return 1

    app.run(wrapped)
