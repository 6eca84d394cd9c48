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


def no_export_error(folder: object, export: str, missing: str | None, command: str) -> HubError:
    """The error of a model folder without its ONNX export where the PyTorch fallback cannot
    import (``missing``, e.g. torch): the serving set (requirements-space.txt, a Space) has no
    torch, so the export is the only way such a folder is served there."""
    return NotAModelFolderError(
        f"{folder} has no ONNX export ({export}) and {missing or 'PyTorch'} is not installed, "
        f"which serving its PyTorch weights needs: retrain with the current `python -m train "
        f"{command}` (it writes the export), or install the training stack "
        "(pip install -r requirements.txt, or the package's [train] extra)"
    )
