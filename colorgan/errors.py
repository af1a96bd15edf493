"""The one exception type for mistakes a user can make (bad path, flag or file).

Entry scripts catch it and print its message as one line, exit code 2, no traceback.
Anything else that escapes is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem the user can fix; the message names the file or flag and what to do."""
