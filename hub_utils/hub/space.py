"""Create or update the Gradio demo Space: the app, its requirements, this package and a card."""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
import tempfile
from pathlib import Path

import yaml
from huggingface_hub import HfApi

from hub_utils.errors import HubError
from hub_utils.hub.transfer import check_repo_id, hub_errors, write_token

PROJECT_DIR = Path(__file__).resolve().parents[2]
# What a Space runs: the app, its requirements and the one package it imports.
SPACE_FILES = ("app.py", "requirements.txt")
SPACE_PACKAGE = "hub_utils"


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
    check_repo_id(space_id)
    for model in models:
        check_repo_id(model)
    source = Path(project_dir)
    files = space_files(source)
    card = space_card(models, title=title, license=license)
    api = HfApi(token=write_token(token))
    with tempfile.TemporaryDirectory(prefix="space-") as staging:
        for relative in files:
            target = Path(staging, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative, target)
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
