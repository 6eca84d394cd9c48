"""The Space's environment: the serving set (requirements-space.txt) alone runs the app.

A fresh virtual environment gets only requirements-space.txt (from PyPI or pip's cache: about
20 s), then ``python app.py`` runs from it on the fixture models, as a Space runs it, and
answers ``/classify`` and ``/topics``. A folder without its ONNX export, where torch cannot be
imported, gets a message saying how to get one instead of a ModuleNotFoundError.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gradio_client import Client

from tests.fixtures_app import free_port, wait_until_serving
from tests.fixtures_classify import SPAM_EXAMPLE
from tests.fixtures_hub import REPO_ROOT
from tests.venvs import make_venv, run_in

SPACE_REQUIREMENTS = REPO_ROOT / "requirements-space.txt"
# The training stack: what a Space must not install (a CUDA torch alone is gigabytes).
TRAINING_ONLY = {
    "torch",
    "torchvision",
    "transformers",
    "sentence-transformers",
    "datasets",
    "contextualized-topic-models",
    "accelerate",
    "gensim",
    "scikit-learn",
}
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)$")
EXPORT_HINT = "retrain with the current `python -m train"


def pins(path: Path) -> dict[str, str]:
    """{normalized name: version} of a requirements file's ``name==version`` lines."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r "):
            match = PIN.match(line)
            assert match, f"{path.name}: {line!r} is not pinned as name==version"
            found[normalize(match.group(1))] = match.group(2)
    return found


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_serving_set_is_pinned_once_and_holds_no_training_stack():
    serving = pins(SPACE_REQUIREMENTS)
    full = pins(REPO_ROOT / "requirements.txt")
    assert not TRAINING_ONLY & set(serving)
    assert {"gradio", "onnxruntime", "tokenizers", "huggingface-hub", "tensorboard"} <= set(serving)
    # requirements.txt includes the serving set instead of repeating its pins, which could drift.
    assert "-r requirements-space.txt" in (REPO_ROOT / "requirements.txt").read_text()
    assert not set(serving) & set(full)


def test_python_version_comes_from_one_file():
    version = (REPO_ROOT / ".python-version").read_text().strip()
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={version}"
    for workflow in ("ci.yml", "sync-space.yml", "train-and-push.yml"):
        text = (REPO_ROOT / ".github" / "workflows" / workflow).read_text()
        assert "python-version-file: .python-version" in text, workflow
        assert "python-version:" not in text, workflow


# Loads both folders without their exports as the app does, with torch unimportable.
NO_TORCH = """
import json, sys
sys.modules["torch"] = None  # `import torch` raises ImportError, as where it is not installed
from pathlib import Path
from hub_utils.serving.loading import load_models
models = load_models(Path("."), {"SPAM_MODEL": sys.argv[1], "TOPIC_MODEL": sys.argv[2]})
print(json.dumps([models.classifier.error, models.topics.error]))
"""


def without_exports(folder: Path, target: Path) -> Path:
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns("onnx"))
    return target


def test_folders_without_export_and_torch_get_a_message(
    trained_classifier: Path, trained_topic_model: Path, tmp_path: Path
):
    spam = without_exports(trained_classifier, tmp_path / "spam")
    topics = without_exports(trained_topic_model, tmp_path / "topics")
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(spam), str(topics)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    spam_error, topics_error = json.loads(result.stdout.strip().splitlines()[-1])
    assert spam_error.startswith(f"{spam} has no ONNX export (onnx/model_quantized.onnx)")
    assert "torch is not installed" in spam_error and f"{EXPORT_HINT} classify`" in spam_error
    assert topics_error.startswith(f"{topics} has no ONNX export (onnx/topic_model.onnx)")
    assert f"{EXPORT_HINT} topics`" in topics_error
    assert "ModuleNotFoundError" not in spam_error + topics_error


@dataclass
class SpaceApp:
    url: str
    python: Path
    log: Path


@pytest.fixture(scope="module")
def space_app(
    trained_classifier: Path, trained_topic_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SpaceApp]:
    """``python app.py`` from a virtual environment holding only the serving set."""
    work = tmp_path_factory.mktemp("space-env")
    python = make_venv(work / "venv", "-r", str(SPACE_REQUIREMENTS))
    port = free_port()
    env = dict(os.environ)
    env.update(
        SPAM_MODEL=str(trained_classifier),
        TOPIC_MODEL=str(trained_topic_model),
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        HF_HUB_OFFLINE="1",
        PYTHONNOUSERSITE="1",
    )
    env.pop("PYTHONPATH", None)
    log = work / "app.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(python), "app.py"], cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(url, process)
    except (RuntimeError, TimeoutError) as err:
        process.kill()
        pytest.fail(f"{err}; its log:\n{log.read_text()[-3000:]}")
    yield SpaceApp(url, python, log)
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_the_serving_set_alone_serves_both_models(space_app: SpaceApp):
    probe = "import importlib.util as u; print([u.find_spec(m) is None for m in ('torch', "
    probe += "'transformers', 'sentence_transformers')])"
    absent = run_in(space_app.python, probe, cwd=REPO_ROOT.parent)
    assert absent.stdout.strip() == "[True, True, True]", absent.stderr
    client = Client(space_app.url, verbose=False)
    prediction, _ = client.predict(SPAM_EXAMPLE, api_name="/classify")
    assert prediction["label"] == "spam"
    chart, summary, result = client.predict("football match goal team", api_name="/topics")
    assert chart["data"] and "Dominant topic" in summary
    assert "Traceback" not in space_app.log.read_text()
