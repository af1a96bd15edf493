"""The one exception type for mistakes a user can make (bad path, flag or file).

Entry scripts catch it and print its message as one line, exit code 2, no traceback.
Anything else that escapes is a bug and keeps its traceback. Messages from the library
name the config field or function argument (`source: ...`, `render_size=...`); the
scripts' `cli.run` turns a leading field name into its flag (`--data: ...`).
"""

import re

# TensorFlow's eager errors wrap the message: "{{function_node __wrapped__Op_device_...}}
# Invalid JPEG data, size 300 [Op:ExtractJpegShape] name: ". Only the middle is for people.
_TF_WRAPPING = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\]( name:.*)?$")
_TF_ASSERTION = re.compile(r"^assertion failed: \[(.*?)\](?: \[.*)?$")


# What a model path may name, said after "PATH does not exist" (modelpath.identify, and the
# scripts' check before TensorFlow starts: cli.require_local).
MODEL_KINDS = "(give 'pretrained', a workdir, a checkpoint, an export or a .tflite)"


class UserError(Exception):
    """A problem the user can fix; the message names the field or file and what to do."""


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first non-empty line of `e`'s message (at most `limit` characters), else its type name.

    For one-line reports of foreign exceptions (TensorFlow's run to pages).
    """
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if lines and lines[0].startswith("Graph execution error"):
        # A failure inside a graph (a tf.function, tf.data) first lists where the failing
        # op was defined: "Detected at node ... defined at ...", then "File ..." lines.
        lines = [line for line in lines[1:]
                 if not line.startswith(("Detected at node", "File "))] or lines
    line = _TF_WRAPPING.sub("", lines[0]).strip() if lines else ""
    # A graph assertion: "assertion failed: [its message] [Condition x <= y ...] ...".
    line = _TF_ASSERTION.sub(r"\1", line).strip()
    return line[:limit] if line else type(e).__name__
