"""Create or update the Gradio demo Space: the app, its requirements, this package and a card."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import yaml
from huggingface_hub import HfApi

from hub_utils.errors import HubError
from hub_utils.hub.transfer import check_repo_id, hub_errors, write_token

PROJECT_DIR = Path(__file__).resolve().parents[2]
# What a Space runs, as {path in the Space: path in the project}: the app, the serving set as its
# requirements (the full requirements.txt would install the training stack, CUDA torch included)
# and the one package it imports.
SPACE_FILES = {"app.py": "app.py", "requirements.txt": "requirements-space.txt"}
SPACE_PACKAGE = "hub_utils"
# The project's Python version, which CI and the workflows read too (setup-python's
# python-version-file); the Space runs the same one.
PYTHON_VERSION_FILE = ".python-version"
SHORT_DESCRIPTION = "Spam detection and topic discovery with MiniLM"  # the Hub allows 60 chars


def deploy_space(
    space_id: str,
    *,
    models: list[str],
    variables: dict[str, str] | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
    revisions: Mapping[str, str] | None = None,
    title: str = "BERT Hub Kit demo",
    license: str = "apache-2.0",
    project_dir: str | Path = PROJECT_DIR,
) -> str:
    """Create or update the Gradio Space and return the commit URL.

    The Space receives exactly ``app.py``, ``requirements-space.txt`` as its ``requirements.txt``,
    the ``hub_utils`` package and a README whose front matter configures it; anything else
    already there is deleted, so the Space mirrors the project. ``models`` are the repos the app
    pulls, listed in the front matter and preloaded when the Space is built (``preload_from_hub``),
    so a restarted Space serves without downloading them; ``revisions`` ({model repo: branch, tag
    or commit}) pins what is preloaded, resolved here to a commit sha. ``variables`` become the
    Space's environment variables (how the app learns those repos and revisions).
    """
    check_repo_id(space_id)
    for model in models:
        check_repo_id(model)
    unknown = set(revisions or {}) - set(models)
    if unknown:
        raise HubError(f"revisions given for repos that are not models of the Space: {unknown}")
    source = Path(project_dir)
    files = space_files(source)
    python_version = read_python_version(source)
    api = HfApi(token=write_token(token))
    preload = []
    for model in models:
        revision = (revisions or {}).get(model)
        if revision is None:
            preload.append(model)
            continue
        # The Hub's format is "repo files commit": a pinned entry must name its files.
        with hub_errors(model, revision):
            pinned = api.model_info(model, revision=revision)
        names = [sibling.rfilename for sibling in pinned.siblings or []]
        preload.append(preload_entry(model, pinned.sha or revision, names))
    card = space_card(
        models, title=title, license=license, python_version=python_version, preload=preload
    )
    with tempfile.TemporaryDirectory(prefix="space-") as staging:
        for relative, origin in files.items():
            target = Path(staging, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / origin, target)
        Path(staging, "README.md").write_text(card, encoding="utf-8")
        with hub_errors(space_id, None):
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


def space_files(project_dir: Path) -> dict[str, str]:
    """The files a Space needs (README.md aside): {path in the Space: path in ``project_dir``}."""
    needed = [*SPACE_FILES.values(), PYTHON_VERSION_FILE]
    missing = [name for name in needed if not (project_dir / name).is_file()]
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
    return {**SPACE_FILES, **{path: path for path in package}}


def read_python_version(project_dir: Path) -> str:
    """The project's Python version (``3.x`` or ``3.x.y``) from its ``.python-version``."""
    path = project_dir / PYTHON_VERSION_FILE
    try:
        version = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise HubError(f"cannot read {path}: deploy the Space from the project folder") from err
    if not re.fullmatch(r"3\.\d+(\.\d+)?", version):
        raise HubError(f"{path} holds {version!r}, not a Python version such as 3.11")
    return version


def preload_entry(repo_id: str, revision: str | None = None, files: list[str] | None = None) -> str:
    """One ``preload_from_hub`` item: ``repo``, or ``repo file1,file2 commit`` when pinned."""
    if revision is None:
        return repo_id
    return f"{repo_id} {','.join(sorted(files or []))} {revision}"


def space_card(
    models: list[str],
    *,
    title: str,
    license: str,
    python_version: str,
    preload: list[str] | None = None,
) -> str:
    """The Space README: YAML front matter read by the Hub, then a short description.

    ``preload`` are the ``preload_from_hub`` items (default: each model repo at its main
    branch), downloaded into the Space's image when it is built."""
    try:
        gradio_version = importlib.metadata.version("gradio")
    except importlib.metadata.PackageNotFoundError as err:
        raise HubError(
            "gradio is not installed, so the Space's sdk_version is unknown: "
            "pip install -r requirements.txt"
        ) from err
    meta = {
        "title": title,
        "short_description": SHORT_DESCRIPTION,
        "emoji": "📨",
        "colorFrom": "indigo",
        "colorTo": "green",
        "sdk": "gradio",
        "sdk_version": gradio_version,
        "app_file": "app.py",
        "python_version": python_version,
        "models": list(models),
        "preload_from_hub": list(preload if preload is not None else models),
        "license": license,
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    links = "\n".join(f"- [{model}](https://huggingface.co/{model})" for model in models)
    return (
        f"---\n{front}---\n\n# {title}\n\n"
        "Spam detection and topic discovery with small BERT-family encoders. "
        f"The Space preloads these models when it is built:\n\n{links}\n"
    )
