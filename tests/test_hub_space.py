"""Deploying the Gradio Space: exactly the files it runs, and a README that configures it."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path

import pytest
import yaml

from hub_utils.errors import HubError
from hub_utils.hub.space import SHORT_DESCRIPTION, preload_entry, read_python_version
from tests.fixtures_hub import REPO_ROOT, run_python
from tests.hub_server import LocalHub

MODELS = ["bert-hub-kit/sms-spam-minilm", "bert-hub-kit/gnews-ctm-minilm"]

# Deploys twice (the second time without hub_utils/stale.py) and reports what the Space holds.
DEPLOY = """
import json, sys
from pathlib import Path
from huggingface_hub import HfApi, hf_hub_download
from hub_utils.hub import deploy_space
space_id, project, models = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
variables = {"SPAM_MODEL": models[0]}
deploy_space(space_id, models=models, variables=variables, project_dir=project)
(project / "hub_utils" / "stale.py").unlink()
url = deploy_space(space_id, models=models, project_dir=project)
readme = Path(hf_hub_download(space_id, "README.md", repo_type="space")).read_text()
requirements = Path(hf_hub_download(space_id, "requirements.txt", repo_type="space")).read_text()
files = HfApi().list_repo_files(space_id, repo_type="space")
print(json.dumps({"url": url, "files": files, "readme": readme, "requirements": requirements}))
"""

# A model repo with two files, then a Space whose card preloads it pinned to its branch "main".
DEPLOY_PINNED = """
import json, sys
from pathlib import Path
from huggingface_hub import HfApi, hf_hub_download
from hub_utils.hub import deploy_space
space_id, project, model = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
api = HfApi()
api.create_repo(model, exist_ok=True)
for name in ("config.json", "onnx/model_quantized.onnx"):
    api.upload_file(path_or_fileobj=b"{}", path_in_repo=name, repo_id=model)
sha = api.model_info(model).sha
deploy_space(space_id, models=[model], revisions={model: "main"}, project_dir=project)
readme = Path(hf_hub_download(space_id, "README.md", repo_type="space")).read_text()
print(json.dumps({"sha": sha, "readme": readme}))
"""


def make_project(root: Path) -> Path:
    """A copy of this project's Space sources, plus what a Space must not receive."""
    root.mkdir()
    (root / "app.py").write_text("import hub_utils\n")
    for name in ("requirements.txt", "requirements-space.txt", ".python-version"):
        shutil.copy(REPO_ROOT / name, root / name)
    shutil.copytree(
        REPO_ROOT / "hub_utils", root / "hub_utils", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "hub_utils" / "stale.py").write_text("# removed before the second deploy\n")
    (root / "hub_utils" / "__pycache__").mkdir()
    (root / "hub_utils" / "__pycache__" / "hub.cpython-311.pyc").write_bytes(b"\0")
    for extra in ("tests/test_app.py", "train/classify.py", "models/spam/config.json"):
        (root / extra).parent.mkdir(parents=True, exist_ok=True)
        (root / extra).write_text("{}\n")
    return root


def test_deploy_space_uploads_exactly_the_app_and_a_space_readme(
    hub_server: LocalHub, hub_env: dict, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project")
    space_id = "bert-hub-kit/demo"
    expected = {"README.md", "app.py", "requirements.txt"} | {
        f"hub_utils/{path.relative_to(REPO_ROOT / 'hub_utils').as_posix()}"
        for path in (REPO_ROOT / "hub_utils").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }

    result = run_python(hub_env, DEPLOY, space_id, str(project), json.dumps(MODELS))

    assert result["url"].startswith(f"{hub_server.endpoint}/spaces/{space_id}/commit/")
    assert set(result["files"]) == expected
    # The Space installs the serving set, not the training stack of requirements.txt.
    assert result["requirements"] == (REPO_ROOT / "requirements-space.txt").read_text()
    # Sub-packages travel too: the app imports the loaders and its views from them.
    assert {
        "hub_utils/hub/transfer.py",
        "hub_utils/models/classifier.py",
        "hub_utils/serving/loading.py",
    } <= expected
    space = hub_server.repo(space_id, "space")
    assert space.sdk == "gradio"
    assert space.variables == {"SPAM_MODEL": MODELS[0]}
    front_matter = result["readme"].split("---\n")[1]
    meta = yaml.safe_load(front_matter)
    assert meta == {
        "title": meta["title"],
        "short_description": SHORT_DESCRIPTION,
        "emoji": meta["emoji"],
        "colorFrom": meta["colorFrom"],
        "colorTo": meta["colorTo"],
        "sdk": "gradio",
        "sdk_version": importlib.metadata.version("gradio"),
        "app_file": "app.py",
        "python_version": (REPO_ROOT / ".python-version").read_text().strip(),
        "models": MODELS,
        "preload_from_hub": MODELS,  # built into the Space's image: a restart downloads nothing
        "license": "apache-2.0",
    }
    assert all(isinstance(meta[key], str) and meta[key] for key in ("title", "emoji"))
    assert len(meta["short_description"]) <= 60


def test_deploy_space_pins_preloaded_models_to_a_commit(
    hub_server: LocalHub, hub_env: dict, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project")
    model = "bert-hub-kit/pinned-spam"
    result = run_python(hub_env, DEPLOY_PINNED, "bert-hub-kit/pinned-demo", str(project), model)
    meta = yaml.safe_load(result["readme"].split("---\n")[1])
    # The Hub's syntax: repo, comma-separated files, commit sha (a branch is resolved here).
    assert meta["preload_from_hub"] == [
        f"{model} config.json,onnx/model_quantized.onnx {result['sha']}"
    ]
    assert meta["models"] == [model]


def test_space_settings_come_from_the_project(tmp_path: Path) -> None:
    assert preload_entry("me/spam") == "me/spam"
    assert (
        preload_entry("me/spam", "abc123", ["b.json", "a.onnx"]) == "me/spam a.onnx,b.json abc123"
    )
    (tmp_path / ".python-version").write_text("3.12\n")
    assert read_python_version(tmp_path) == "3.12"
    (tmp_path / ".python-version").write_text("python3\n")
    with pytest.raises(HubError, match="not a Python version"):
        read_python_version(tmp_path)
