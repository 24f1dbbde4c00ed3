"""Errors that are the user's to fix (a bad file, a flag out of range, a corrupt checkpoint).

Library code raises :class:`UserError` (or a subclass) with a message that says what was wrong and what to
do; the CLI prints that message and exits with code 2, without a traceback. Anything else escaping to the
CLI is a bug in ninjagrad and keeps its traceback.
"""


class UserError(ValueError):
    """Bad input: the message is meant for the user, and says what to do."""
