"""The one exception type users see (DESIGN.md, rule 7).

Bad input raises :class:`RigDojoError` with a message that says what is wrong
and what to do. Operators turn it into ``self.report({'ERROR'}, ...)``; the
command line prints it as one line on stderr and exits with code 2.
"""


class RigDojoError(Exception):
    """Bad input from the user: the message says what is wrong and what to do."""

    exit_code = 2


class NotExactError(RigDojoError):
    """The twin does not reproduce Blender's evaluation for a selection."""

    exit_code = 3
