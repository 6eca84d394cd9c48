"""Push model folders to the Hugging Face Hub and pull them back.

Everything goes through ``huggingface_hub``, so ``HF_TOKEN``, ``HF_ENDPOINT``, ``HF_HOME`` and
``HF_HUB_OFFLINE`` work as for any Hub tool. Problems the user can fix raise ``HubError``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx2
from huggingface_hub import HfApi, constants, get_token, snapshot_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from hub_utils.errors import HubError, NotAModelFolderError
from hub_utils.hub.audit import check_folder
from hub_utils.hub.defaults import SPAM_MODEL_REPO
from hub_utils.models.files import CONFIG_FILE


def push(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    delete_missing: bool = False,
) -> str:
    """Upload a model folder (weights, card, ``runs/`` TensorBoard logs) and return the commit URL.

    ``hub_utils.hub.audit.check_folder`` runs first: a folder with a local path, a pickle, card
    metadata the Hub would reject or a missing file is refused with every reason. The repo is
    created if needed. Files whose content is already on the Hub are skipped, so
    pushing an unchanged folder makes no commit. Remote files absent from the folder are kept
    unless ``delete_missing`` is set.
    """
    path = _model_folder(folder)
    check_repo_id(repo_id)
    check_folder(path)  # refuses private paths, pickles and metadata the Hub would reject
    api = HfApi(token=write_token(token))
    with hub_errors(repo_id, revision):
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=path,
            revision=revision,
            commit_message=commit_message or f"Upload {path.name}",
            delete_patterns="*" if delete_missing else None,
        )
    return info.commit_url


def pull(repo_id_or_path: str | Path, *, revision: str | None = None) -> Path:
    """Return a local model folder: an existing folder as it is, a repo id via the Hub cache.

    A snapshot already in the cache is reused, so with ``HF_HUB_OFFLINE=1`` a model pulled once
    still loads. ``revision`` (a branch or a commit sha) pins what is loaded.
    """
    local = Path(repo_id_or_path).expanduser()
    if local.is_dir():
        return _model_folder(local)
    repo_id = str(repo_id_or_path)
    if repo_id.startswith((".", "/", "~")) or repo_id.count("/") != 1:
        raise HubError(
            f"model folder not found: {local} "
            f"(and it is not a Hub repo id like '{SPAM_MODEL_REPO}')"
        )
    check_repo_id(repo_id)
    with hub_errors(repo_id, revision):
        return Path(snapshot_download(repo_id, revision=revision))


def _model_folder(folder: str | Path) -> Path:
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise HubError(f"model folder not found: {path}")
    if not (path / CONFIG_FILE).is_file():
        raise NotAModelFolderError(
            f"{path} is not a model folder (no config.json): pass an output folder of "
            "`python -m train classify` or `python -m train topics`"
        )
    return path


def check_repo_id(repo_id: str) -> None:
    problem = f"malformed repo id {repo_id!r}: expected 'owner/name' like '{SPAM_MODEL_REPO}'"
    if repo_id.count("/") != 1:
        raise HubError(problem)
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise HubError(f"{problem}, using letters, digits, '-', '_' and '.'") from err


def write_token(token: str | None) -> str:
    token = token or get_token()
    if not token:
        raise HubError(
            "no Hugging Face token: set HF_TOKEN to a token with write access "
            "or run `hf auth login`"
        )
    return token


@contextlib.contextmanager
def hub_errors(repo_id: str, revision: str | None) -> Iterator[None]:
    """Turn the client's exceptions into one-line messages that say what to fix."""
    endpoint = constants.ENDPOINT
    try:
        yield
    except RevisionNotFoundError as err:
        raise HubError(
            f"revision {revision or 'main'!r} not found in {repo_id!r}: "
            "use an existing branch, or a full commit sha to download"
        ) from err
    except RepositoryNotFoundError as err:
        raise HubError(
            f"repo {repo_id!r} not found on {endpoint}: check the id; "
            "if the repo is private, set HF_TOKEN to a token that can read it"
        ) from err
    except HfHubHTTPError as err:
        status = err.response.status_code
        if status == 401:
            raise HubError(
                f"{endpoint} rejected the Hugging Face token (401 Unauthorized): "
                "set HF_TOKEN to a valid token or run `hf auth login` again"
            ) from err
        if status == 403:
            raise HubError(
                f"the token may not write to {repo_id!r} (403 Forbidden): "
                "use a token with write access to that namespace"
            ) from err
        raise HubError(f"{endpoint} failed for {repo_id!r}: {str(err).splitlines()[0]}") from err
    except OfflineModeIsEnabled as err:
        raise HubError(f"HF_HUB_OFFLINE=1 is set: unset it to reach {endpoint}") from err
    except httpx2.TransportError as err:
        raise HubError(
            f"cannot reach the Hub at {endpoint} ({type(err).__name__}): "
            "check the network connection, or HF_ENDPOINT if it is set"
        ) from err
    except LocalEntryNotFoundError as err:
        if constants.HF_HUB_OFFLINE:
            raise HubError(
                f"{repo_id!r} is not in the local Hub cache and HF_HUB_OFFLINE=1 forbids "
                "downloading it: pull it once online, or unset HF_HUB_OFFLINE"
            ) from err
        cause = type(err.__cause__).__name__ if err.__cause__ else "no answer"
        raise HubError(
            f"cannot reach the Hub at {endpoint} ({cause}) and {repo_id!r} is not in the "
            "local cache: check the network connection, or HF_ENDPOINT if it is set"
        ) from err
