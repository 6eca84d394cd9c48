"""Every Hub problem a user can cause ends in one clear line, exit status 2, no traceback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from hub_utils.errors import HubError
from hub_utils.hub import pull, push
from tests.fixtures_hub import (
    READ_TOKEN,
    WRITE_TOKEN,
    client_env,
    minimal_classifier_folder,
    run_cli,
)
from tests.hub_server import LocalHub


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    for token in (WRITE_TOKEN, READ_TOKEN):
        assert token not in result.stderr + result.stdout


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    """The least a push accepts (its publish check included)."""
    return minimal_classifier_folder(tmp_path / "model")


@pytest.fixture
def existing_repo(hub_server: LocalHub) -> str:
    """A repo that exists on the local Hub (created directly on the server: setup only)."""
    hub_server.create_repo({"name": "exists", "organization": "bert-hub-kit"}, "write")
    return "bert-hub-kit/exists"


@pytest.fixture
def closed_port_endpoint() -> str:
    """An endpoint where nothing listens: the port was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_push_without_a_token(hub_endpoint: str, tmp_path: Path, model_folder: Path) -> None:
    env = client_env(hub_endpoint, tmp_path / "hf_home", token=None)
    result = run_cli(env, "push", str(model_folder), "bert-hub-kit/no-token")
    assert_user_error(result, "no Hugging Face token", "HF_TOKEN", "hf auth login")


def test_push_with_a_rejected_token(hub_env: dict, model_folder: Path) -> None:
    env = {**hub_env, "HF_TOKEN": "hf_not_a_valid_token"}
    result = run_cli(env, "push", str(model_folder), "bert-hub-kit/bad-token")
    assert_user_error(result, "rejected the Hugging Face token (401 Unauthorized)", "HF_TOKEN")
    assert "hf_not_a_valid_token" not in result.stderr


def test_push_with_a_read_only_token(hub_env: dict, model_folder: Path, existing_repo: str) -> None:
    env = {**hub_env, "HF_TOKEN": READ_TOKEN}
    result = run_cli(env, "push", str(model_folder), existing_repo)
    assert_user_error(result, f"may not write to '{existing_repo}' (403 Forbidden)", "write access")


def test_pull_of_a_missing_repo(hub_env: dict, hub_endpoint: str) -> None:
    result = run_cli(hub_env, "pull", "bert-hub-kit/missing")
    assert_user_error(result, f"repo 'bert-hub-kit/missing' not found on {hub_endpoint}")


def test_pull_of_a_missing_revision(hub_env: dict, existing_repo: str) -> None:
    result = run_cli(hub_env, "pull", existing_repo, "--revision", "v9")
    assert_user_error(result, f"revision 'v9' not found in '{existing_repo}'", "commit sha")


def test_push_to_a_missing_branch(hub_env: dict, model_folder: Path) -> None:
    args = ("push", str(model_folder), "bert-hub-kit/branchless", "--revision", "dev")
    assert_user_error(run_cli(hub_env, *args), "revision 'dev' not found")


def test_pull_when_the_hub_is_unreachable(hub_env: dict, closed_port_endpoint: str) -> None:
    env = {**hub_env, "HF_ENDPOINT": closed_port_endpoint}
    result = run_cli(env, "pull", "bert-hub-kit/anything")
    assert_user_error(result, f"cannot reach the Hub at {closed_port_endpoint}", "HF_ENDPOINT")


def test_push_when_the_hub_is_unreachable(
    hub_env: dict, closed_port_endpoint: str, model_folder: Path
) -> None:
    env = {**hub_env, "HF_ENDPOINT": closed_port_endpoint}
    result = run_cli(env, "push", str(model_folder), "bert-hub-kit/anything")
    assert_user_error(result, f"cannot reach the Hub at {closed_port_endpoint}")


def test_offline_pull_of_a_model_never_downloaded(hub_env: dict) -> None:
    result = run_cli({**hub_env, "HF_HUB_OFFLINE": "1"}, "pull", "bert-hub-kit/tiny-spam")
    assert_user_error(result, "not in the local Hub cache", "HF_HUB_OFFLINE")


@pytest.mark.parametrize("repo_id", ["no-namespace", "a/b/c", "bert-hub-kit/bad name", "x/y--z"])
def test_malformed_repo_ids(repo_id: str, model_folder: Path) -> None:
    with pytest.raises(HubError, match=f"malformed repo id '{repo_id}': expected 'owner/name'"):
        push(model_folder, repo_id)


def test_pull_of_a_path_that_is_no_folder(tmp_path: Path) -> None:
    with pytest.raises(HubError, match="model folder not found"):
        pull(tmp_path / "models" / "spam")


def test_push_of_a_missing_folder(hub_env: dict, tmp_path: Path) -> None:
    result = run_cli(hub_env, "push", str(tmp_path / "nowhere"), "bert-hub-kit/x")
    assert_user_error(result, f"model folder not found: {tmp_path / 'nowhere'}")


def test_push_of_a_folder_without_config(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(HubError, match=r"is not a model folder \(no config.json\)"):
        push(tmp_path, "bert-hub-kit/x")


@pytest.mark.parametrize("command", [[], ["push"], ["pull"], ["deploy-space"]])
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from hub_utils.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: python -m hub_utils" in capsys.readouterr().out
