"""The one exception type that the command line turns into a one-line message and exit code 2."""


class UsageError(Exception):
    """Bad input from the user: a missing dataset, a bad option, a mismatched checkpoint.

    The command line prints `error: <message>` on stderr and exits with code 2, with no traceback.
    """
