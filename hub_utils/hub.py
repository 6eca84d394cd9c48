"""Publish model folders and the demo Space to the Hugging Face Hub, and load models back.

Everything goes through ``huggingface_hub``, so ``HF_TOKEN``, ``HF_ENDPOINT``, ``HF_HOME`` and
``HF_HUB_OFFLINE`` work as for any Hub tool. Problems the user can fix raise ``HubError``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx2
import yaml
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

from hub_utils.defaults import SPAM_MODEL_REPO
from hub_utils.errors import HubError

PROJECT_DIR = Path(__file__).resolve().parent.parent
# What a Space runs: the app, its requirements and the one package it imports.
SPACE_FILES = ("app.py", "requirements.txt")
SPACE_PACKAGE = "hub_utils"


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

    The repo is created if needed. Files whose content is already on the Hub are skipped, so
    pushing an unchanged folder makes no commit. Remote files absent from the folder are kept
    unless ``delete_missing`` is set.
    """
    path = _model_folder(folder)
    _check_repo_id(repo_id)
    api = HfApi(token=_token(token))
    with _hub_errors(repo_id, revision):
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
    _check_repo_id(repo_id)
    with _hub_errors(repo_id, revision):
        return Path(snapshot_download(repo_id, revision=revision))


def deploy_space(
    space_id: str,
    *,
    models: list[str],
    variables: dict[str, str] | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
    title: str = "BERT Hub Kit demo",
    license: str = "apache-2.0",
    project_dir: str | Path = PROJECT_DIR,
) -> str:
    """Create or update the Gradio Space and return the commit URL.

    The Space receives exactly ``app.py``, ``requirements.txt``, the ``hub_utils`` package and a
    README whose front matter configures it; anything else already there is deleted, so the
    Space mirrors the project. ``models`` are the repos the app pulls, listed in the front matter;
    ``variables`` become the Space's environment variables (how the app learns those repos).
    """
    _check_repo_id(space_id)
    for model in models:
        _check_repo_id(model)
    source = Path(project_dir)
    files = space_files(source)
    card = space_card(models, title=title, license=license)
    api = HfApi(token=_token(token))
    with tempfile.TemporaryDirectory(prefix="space-") as staging:
        for relative in files:
            target = Path(staging, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative, target)
        Path(staging, "README.md").write_text(card, encoding="utf-8")
        with _hub_errors(space_id, None):
            api.create_repo(
                space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True
            )
            for key, value in (variables or {}).items():
                api.add_space_variable(space_id, key, value)
            info = api.upload_folder(
                repo_id=space_id,
                repo_type="space",
                folder_path=staging,
                commit_message=commit_message or "Deploy the demo app",
                delete_patterns="*",
            )
    return info.commit_url


def space_files(project_dir: Path) -> list[str]:
    """Paths, relative to ``project_dir``, of the files a Space needs (README.md aside)."""
    missing = [name for name in SPACE_FILES if not (project_dir / name).is_file()]
    if not (project_dir / SPACE_PACKAGE).is_dir():
        missing.append(f"{SPACE_PACKAGE}/")
    if missing:
        raise HubError(
            f"{project_dir} lacks {', '.join(missing)}: deploy the Space from the project folder"
        )
    package = [
        path.relative_to(project_dir).as_posix()
        for path in sorted((project_dir / SPACE_PACKAGE).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    return [*SPACE_FILES, *package]


def space_card(models: list[str], *, title: str, license: str) -> str:
    """The Space README: YAML front matter read by the Hub, then a short description."""
    try:
        gradio_version = importlib.metadata.version("gradio")
    except importlib.metadata.PackageNotFoundError as err:
        raise HubError(
            "gradio is not installed, so the Space's sdk_version is unknown: "
            "pip install -r requirements.txt"
        ) from err
    meta = {
        "title": title,
        "emoji": "📨",
        "colorFrom": "indigo",
        "colorTo": "green",
        "sdk": "gradio",
        "sdk_version": gradio_version,
        "app_file": "app.py",
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
        "models": list(models),
        "license": license,
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    links = "\n".join(f"- [{model}](https://huggingface.co/{model})" for model in models)
    return (
        f"---\n{front}---\n\n# {title}\n\n"
        "Spam detection and topic discovery with small BERT-family encoders. "
        f"The app downloads these models when it starts:\n\n{links}\n"
    )


def _model_folder(folder: str | Path) -> Path:
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise HubError(f"model folder not found: {path}")
    if not (path / "config.json").is_file():
        raise HubError(
            f"{path} is not a model folder (no config.json): pass an output folder of "
            "`python -m train classify` or `python -m train topics`"
        )
    return path


def _check_repo_id(repo_id: str) -> None:
    problem = f"malformed repo id {repo_id!r}: expected 'owner/name' like '{SPAM_MODEL_REPO}'"
    if repo_id.count("/") != 1:
        raise HubError(problem)
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise HubError(f"{problem}, using letters, digits, '-', '_' and '.'") from err


def _token(token: str | None) -> str:
    token = token or get_token()
    if not token:
        raise HubError(
            "no Hugging Face token: set HF_TOKEN to a token with write access "
            "or run `hf auth login`"
        )
    return token


@contextlib.contextmanager
def _hub_errors(repo_id: str, revision: str | None) -> Iterator[None]:
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
