"""Publishing and loading the classifier through the real ``huggingface_hub`` client over HTTP."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from hub_utils.hub import pull
from tests.fixtures_hub import (
    MINIMAL_CONFIG,
    client_env,
    minimal_classifier_folder,
    run_cli,
    run_python,
)
from tests.hub_server import LocalHub

TEXTS = ["WIN a FREE prize now, call 0800 123!", "See you at dinner tonight?"]

# Loads the classifier by repo id, as a user would, and prints its logits and pipeline output.
LOAD_CLASSIFIER = """
import json, sys, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
repo_id, texts = sys.argv[1], json.loads(sys.argv[2])
tokenizer = AutoTokenizer.from_pretrained(repo_id)
model = AutoModelForSequenceClassification.from_pretrained(repo_id)
with torch.no_grad():
    logits = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
classifier = pipeline("text-classification", model=repo_id)
print(json.dumps({"logits": logits.tolist(), "pipeline": classifier(texts)}))
"""

LIST_FILES = """
import json, sys
from huggingface_hub import HfApi
print(json.dumps(HfApi().list_repo_files(sys.argv[1])))
"""


@pytest.fixture(scope="module")
def pushed_classifier(
    hub_endpoint: str, trained_classifier: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """The classifier folder pushed once with the CLI: (repo id, commit URL)."""
    repo_id = "bert-hub-kit/tiny-spam"
    env = client_env(hub_endpoint, tmp_path_factory.mktemp("hf_home"))
    result = run_cli(env, "push", str(trained_classifier), repo_id)
    assert result.returncode == 0, result.stderr
    return repo_id, result.stdout.strip()


def _files(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_push_uploads_the_whole_folder_with_card_and_tfevents(
    pushed_classifier: tuple[str, str], hub_endpoint: str, hub_env: dict, trained_classifier: Path
) -> None:
    repo_id, commit_url = pushed_classifier
    assert re.fullmatch(rf"{hub_endpoint}/{repo_id}/commit/[0-9a-f]{{40}}", commit_url)

    remote = run_python(hub_env, LIST_FILES, repo_id)

    assert sorted(remote) == sorted(_files(trained_classifier))
    assert "README.md" in remote
    assert [p for p in remote if re.fullmatch(r"runs/[^/]+/events\.out\.tfevents\..+", p)]


def test_pushing_an_unchanged_folder_makes_no_commit(
    pushed_classifier: tuple[str, str],
    hub_server: LocalHub,
    hub_env: dict,
    trained_classifier: Path,
) -> None:
    repo_id, commit_url = pushed_classifier
    history = hub_server.repo(repo_id).history()

    again = run_cli(hub_env, "push", str(trained_classifier), repo_id)

    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == commit_url
    assert hub_server.repo(repo_id).history() == history


def test_classifier_loads_by_repo_id_with_the_local_predictions(
    pushed_classifier: tuple[str, str],
    hub_server: LocalHub,
    hub_env: dict,
    trained_classifier: Path,
) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    repo_id, _ = pushed_classifier
    remote = run_python(hub_env, LOAD_CLASSIFIER, repo_id, json.dumps(TEXTS))

    tokenizer = AutoTokenizer.from_pretrained(trained_classifier)
    model = AutoModelForSequenceClassification.from_pretrained(trained_classifier)
    with torch.no_grad():
        logits = model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits
    local = pipeline("text-classification", model=str(trained_classifier))(TEXTS)
    downloads = [r for r in hub_server.requests if r.startswith(f"GET /{repo_id}/resolve/")]
    assert any("/model.safetensors 200" in r for r in downloads)  # served by the local Hub
    assert torch.allclose(torch.tensor(remote["logits"]), logits, atol=1e-5)
    assert [p["label"] for p in remote["pipeline"]] == [p["label"] for p in local]
    assert [p["score"] for p in remote["pipeline"]] == pytest.approx([p["score"] for p in local])


def test_pull_downloads_once_then_works_offline_from_the_cache(
    pushed_classifier: tuple[str, str], hub_env: dict, trained_classifier: Path
) -> None:
    repo_id, commit_url = pushed_classifier
    online = run_cli(hub_env, "pull", repo_id)
    assert online.returncode == 0, online.stderr

    offline = run_cli({**hub_env, "HF_HUB_OFFLINE": "1"}, "pull", repo_id)

    assert offline.returncode == 0, offline.stderr
    folder = Path(offline.stdout.strip())
    assert folder == Path(online.stdout.strip())
    assert folder.name == commit_url.rsplit("/", 1)[1]  # the snapshot of the pushed commit
    assert _files(folder) == _files(trained_classifier)


def test_pull_returns_a_local_model_folder_as_it_is(trained_classifier: Path) -> None:
    assert pull(trained_classifier) == trained_classifier


def test_revision_pinning_returns_the_old_weights_after_a_newer_push(
    hub_env: dict, trained_classifier: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForSequenceClassification

    repo_id = "bert-hub-kit/pinned"
    first = run_cli(hub_env, "push", str(trained_classifier), repo_id)
    assert first.returncode == 0, first.stderr
    retrained = shutil.copytree(trained_classifier, tmp_path / "retrained")
    model = AutoModelForSequenceClassification.from_pretrained(retrained)
    model.classifier.bias.data += 1.0
    model.save_pretrained(retrained)
    second = run_cli(hub_env, "push", str(retrained), repo_id, "--message", "Retrain")
    assert second.returncode == 0, second.stderr
    old_commit = first.stdout.strip().rsplit("/", 1)[1]

    pinned = run_cli(hub_env, "pull", repo_id, "--revision", old_commit)
    latest = run_cli(hub_env, "pull", repo_id)

    weights = "model.safetensors"
    assert second.stdout.strip() != first.stdout.strip()
    pinned_files = _files(Path(pinned.stdout.strip()))
    assert pinned_files[weights] == _files(trained_classifier)[weights]
    assert _files(Path(latest.stdout.strip()))[weights] == _files(retrained)[weights]
    assert pinned_files[weights] != _files(retrained)[weights]


def test_push_deletes_remote_files_only_when_asked(
    hub_server: LocalHub, hub_env: dict, trained_classifier: Path, tmp_path: Path
) -> None:
    repo_id = "bert-hub-kit/pruned"
    assert run_cli(hub_env, "push", str(trained_classifier), repo_id).returncode == 0
    smaller = shutil.copytree(trained_classifier, tmp_path / "smaller")
    (smaller / "eval_results.json").unlink()
    shutil.rmtree(smaller / "runs")

    def remote_files() -> set[str]:
        return set(hub_server.repo(repo_id).resolve("main").files)

    kept = run_cli(hub_env, "push", str(smaller), repo_id)
    assert kept.returncode == 0, kept.stderr
    assert remote_files() == set(_files(trained_classifier))

    pruned = run_cli(hub_env, "push", str(smaller), repo_id, "--delete-missing")
    assert pruned.returncode == 0, pruned.stderr
    assert remote_files() == set(_files(smaller))


def test_private_push_is_only_readable_with_a_token(
    hub_server: LocalHub, hub_env: dict, tmp_path: Path
) -> None:
    folder = minimal_classifier_folder(tmp_path / "model")
    repo_id = "bert-hub-kit/private"
    pushed = run_cli(hub_env, "push", str(folder), repo_id, "--private")
    assert pushed.returncode == 0, pushed.stderr

    anonymous = run_cli({k: v for k, v in hub_env.items() if k != "HF_TOKEN"}, "pull", repo_id)
    with_token = run_cli(hub_env, "pull", repo_id)

    assert hub_server.repo(repo_id).private
    assert anonymous.returncode == 2
    assert "private, set HF_TOKEN" in anonymous.stderr
    assert with_token.returncode == 0, with_token.stderr
    assert (Path(with_token.stdout.strip()) / "config.json").read_text() == MINIMAL_CONFIG
