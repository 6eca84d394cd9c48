"""Errors the Hub helpers raise for problems the user can fix (token, repo id, network, folder)."""


class HubError(Exception):
    """A publishing or loading problem, with a message that names it and how to fix it."""
