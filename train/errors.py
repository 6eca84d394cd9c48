"""Errors caused by the user's input: the CLI prints them without a traceback and exits 2."""


class UserError(Exception):
    """Bad input (file, column, flag value) with a message that names the problem."""
