"""What every entry script shares: quiet TensorFlow start-up and one-line user errors."""

from __future__ import annotations

import glob
import os
import re
import sys
from typing import Callable, Collection, Mapping

# Before TensorFlow is imported: hide its C++ info chatter (warnings still show) and
# the CUDA probe of the GPU build on machines with no GPU driver.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from absl import app, flags, logging  # noqa: E402  (absl does not import TensorFlow)

from colorgan.config_flags import ALIASES  # noqa: E402
from colorgan.errors import MODEL_KINDS, UserError  # noqa: E402

_LEADING_NAME = re.compile(r"([a-z][a-z0-9_]*)(?=[=:])")


def flag_message(message: str, flag_names: Collection[str],
                 renames: Mapping[str, str] | None = None) -> str:
    """A library message, which names a config field or argument first ("source: ...",
    "render_size=8 ..."), as the script's user reads it: "--data: ...", "--render_size=8 ...".

    The name becomes a flag through `renames` (a script's own argument -> flag names), then
    config_flags.ALIASES in reverse (source -> data), else as it is; only where the script
    has that flag (`flag_names`), so "model: ..." stays put in a script without --model.
    """
    match = _LEADING_NAME.match(message)
    if not match:
        return message
    name = match.group(1)
    field_flags = {field: flag for flag, field in ALIASES.items()}
    flag = (renames or {}).get(name) or field_flags.get(name, name)
    if flag not in flag_names:
        return message
    return f"--{flag}{message[match.end():]}"


# A spec that names no local path: "scheme:..." (samples:val, tfds:..., gs://...).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_NOT_PATHS = ("", "pretrained", "samples")
MODEL_HINT = f" {MODEL_KINDS}"


def require_local(flag: str, spec: str | None, hint: str = "") -> None:
    """UserError "FLAG: SPEC does not exist[HINT]" for a local path that is not there (no
    file, folder, glob match or checkpoint prefix SPEC.index). For the scripts, before they
    import TensorFlow: a mistyped path then costs no TensorFlow start (~5 s). Specs that
    name no local path pass ("pretrained", "samples", "samples:val", "tfds:...", "gs://...");
    what a path holds is the library's to check."""
    if spec is None or spec in _NOT_PATHS or _SCHEME.match(spec):
        return
    if os.path.exists(spec) or os.path.exists(spec + ".index") or glob.glob(spec):
        return
    raise UserError(f"{flag}: {spec} does not exist{hint}")


def run(main: Callable[[list[str]], int | None],
        renames: Mapping[str, str] | None = None) -> None:
    """absl.app.run(main), turning UserError into `<script>: error: <message>` and exit 2.

    A message that starts with a field or argument name is shown with its flag instead
    (`flag_message`); `renames` maps this script's library arguments to its flags where
    their names differ (make_tfrecords.py: prefix -> output).
    """
    def report(e: Exception) -> None:
        message = flag_message(str(e), set(flags.FLAGS), renames)
        print(f"{os.path.basename(sys.argv[0])}: error: {message}", file=sys.stderr)

    def wrapped(argv):
        logging.set_verbosity(logging.INFO)
        try:
            return main(argv)
        except UserError as e:
            report(e)
            return 2
        except FloatingPointError as e:  # training diverged: the message names the good checkpoint
            report(e)
            return 1

    app.run(wrapped)
