"""The one exception type for mistakes a user can make (bad path, flag or file).

Entry scripts catch it and print its message as one line, exit code 2, no traceback.
Anything else that escapes is a bug and keeps its traceback. Messages from the library
name the config field or function argument (`source: ...`, `render_size=...`); the
scripts' `cli.run` turns a leading field name into its flag (`--data: ...`).
"""


class UserError(Exception):
    """A problem the user can fix; the message names the field or file and what to do."""


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first non-empty line of `e`'s message (at most `limit` characters), else its type name.

    For one-line reports of foreign exceptions (TensorFlow's run to pages).
    """
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[0][:limit] if lines else type(e).__name__
