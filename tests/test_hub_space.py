"""Deploying the Gradio Space: exactly the files it runs, and a README that configures it."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import sys
from pathlib import Path

import yaml

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
files = HfApi().list_repo_files(space_id, repo_type="space")
print(json.dumps({"url": url, "files": files, "readme": readme}))
"""


def make_project(root: Path) -> Path:
    """A copy of this project's Space sources, plus what a Space must not receive."""
    root.mkdir()
    (root / "app.py").write_text("import hub_utils\n")
    shutil.copy(REPO_ROOT / "requirements.txt", root / "requirements.txt")
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
        "emoji": meta["emoji"],
        "colorFrom": meta["colorFrom"],
        "colorTo": meta["colorTo"],
        "sdk": "gradio",
        "sdk_version": importlib.metadata.version("gradio"),
        "app_file": "app.py",
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
        "models": MODELS,
        "license": "apache-2.0",
    }
    assert all(isinstance(meta[key], str) and meta[key] for key in ("title", "emoji"))
