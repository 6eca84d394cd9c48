"""The installable loaders: the wheel holds hub_utils alone, installs with its core dependencies
into a fresh environment, and loads and runs both fixture models there (their ONNX exports)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from tests.fixtures_classify import HAM_EXAMPLE, SPAM_EXAMPLE
from tests.fixtures_hub import REPO_ROOT
from tests.test_space_env import normalize, pins
from tests.venvs import make_venv, run_in

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]

# Runs in the wheel's environment, outside the project folder.
LOAD = """
import importlib.metadata, importlib.util, json, sys
import hub_utils
from hub_utils import load_classifier, load_topic_model
topics = load_topic_model(sys.argv[1])
distribution = topics.predict(["football match goal team"])
classifier = load_classifier(sys.argv[2])
predictions = classifier.predict([sys.argv[3], sys.argv[4]])
files = importlib.metadata.files("bert-hub-kit")
print(json.dumps({
    "module": hub_utils.__file__,
    "topic_backend": topics.backend,
    "topic_sum": float(distribution.sum()),
    "classifier_backend": classifier.backend,
    "labels": [p.label for p in predictions],
    "top_level": sorted({f.parts[0] for f in files}),
    "absent": [importlib.util.find_spec(m) is None for m in ("train", "app", "tests", "torch")],
}))
"""


def test_pyproject_ranges_start_at_the_pinned_versions():
    """The library's lower bounds are the tested pins of requirements*.txt, so neither drifts."""
    pinned = pins(REPO_ROOT / "requirements-space.txt") | pins(REPO_ROOT / "requirements.txt")
    groups = {"core": PROJECT["dependencies"], **PROJECT["optional-dependencies"]}
    for group, requirements in groups.items():
        for line in requirements:
            requirement = Requirement(line)
            lower = [s.version for s in requirement.specifier if s.operator == ">="]
            assert lower == [pinned[normalize(requirement.name)]], (group, line)
    core = {normalize(Requirement(line).name) for line in PROJECT["dependencies"]}
    assert not {"torch", "transformers", "gradio"} & core


def test_wheel_installs_the_loaders_alone(
    trained_classifier: Path, trained_topic_model: Path, tmp_path: Path
):
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(
        REPO_ROOT / "hub_utils", source / "hub_utils", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("train", "tests", "bench"):  # present, as in a checkout, and left out
        shutil.copytree(
            REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO_ROOT / "app.py", source / "app.py")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert re.fullmatch(rf"bert_hub_kit-{PROJECT['version']}-py3-none-any\.whl", wheel.name)

    python = make_venv(tmp_path / "venv", str(wheel))
    outside = tmp_path / "elsewhere"  # not the project folder, so only site-packages is seen
    outside.mkdir()
    result = run_in(
        python,
        LOAD,
        str(trained_topic_model),
        str(trained_classifier),
        SPAM_EXAMPLE,
        HAM_EXAMPLE,
        cwd=outside,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert "site-packages" in loaded["module"]
    assert loaded["topic_backend"].startswith("ONNX Runtime")
    assert abs(loaded["topic_sum"] - 1) < 1e-4
    assert loaded["classifier_backend"].startswith("ONNX Runtime")
    assert loaded["labels"] == ["spam", "ham"]
    assert loaded["top_level"] == [f"bert_hub_kit-{PROJECT['version']}.dist-info", "hub_utils"]
    assert loaded["absent"] == [True, True, True, True]
    cli = run_in(python, "from hub_utils.__main__ import main; main(['--help'])", cwd=outside)
    assert "deploy-space" in cli.stdout, cli.stderr
