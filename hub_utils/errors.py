"""Errors for problems the user can fix (token, repo id, network, folder); the CLIs print them
as one line and exit 2."""


class HubError(Exception):
    """A publishing or loading problem, with a message that names it and how to fix it."""


class NotAModelFolderError(HubError, ValueError):
    """A folder that lacks what a model of the kind asked for needs (``config.json``, weights,
    tokenizer, labels, ...); the message names the missing piece."""


class BadRequestError(ValueError):
    """A request the app cannot serve as it is (an empty text, an unreadable file, a model that
    did not load); the message says what to change. ``app.py`` shows it to the user."""
