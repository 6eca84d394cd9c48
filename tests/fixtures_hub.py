"""Hub fixtures: a local Hub-compatible server and client processes pointed at it.

The tests run the real ``huggingface_hub`` client the way a user does: in its own process, with
``HF_ENDPOINT`` and ``HF_TOKEN`` in the environment (the client reads them when it is imported,
and this test process is pinned offline by conftest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hub_server import LocalHub

WRITE_TOKEN = "hf_local_write_token_0123456789"
READ_TOKEN = "hf_local_read_token_0123456789"
CLIENT_TIMEOUT_S = 180
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHub]:
    """The Hub server, on 127.0.0.1 at a free port, storing blobs in a temporary folder."""
    hub = LocalHub(tmp_path_factory.mktemp("hub"), write_token=WRITE_TOKEN, read_token=READ_TOKEN)
    hub.start()
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def hub_endpoint(hub_server: LocalHub) -> str:
    """Base URL of the local Hub, for ``HF_ENDPOINT``."""
    return hub_server.endpoint


@pytest.fixture
def hub_env(hub_endpoint: str, tmp_path: Path) -> dict[str, str]:
    """Environment of a client process: the local Hub, online, a write token, an empty cache."""
    return client_env(hub_endpoint, tmp_path / "hf_home")


def client_env(endpoint: str, hf_home: Path, token: str | None = WRITE_TOKEN) -> dict[str, str]:
    """This process's environment, pointed at ``endpoint`` with the cache in ``hf_home``."""
    env = dict(os.environ)
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HUB_OFFLINE="0",
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        OMP_NUM_THREADS="1",  # the machine is shared: one thread per client process
    )
    env.pop("HF_TOKEN", None)
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m hub_utils ARGS`` in its own process, as a user runs it."""
    return _run([sys.executable, "-m", "hub_utils", *args], env)


def run_python(env: dict[str, str], code: str, *args: str) -> Any:
    """Run client ``code`` in its own process; it prints one JSON value, which is returned."""
    result = _run([sys.executable, "-c", code, *args], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S
    )


MINIMAL_CONFIG = '{"model_type": "bert", "id2label": {"0": "ham", "1": "spam"}}'


def minimal_classifier_folder(folder: Path) -> Path:
    """The least a push accepts: a classifier's files (placeholders) and a valid card, without
    training one (for the tests of Hub errors, which never load the model)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(MINIMAL_CONFIG)
    (folder / "model.safetensors").write_bytes(b"placeholder weights")
    (folder / "tokenizer.json").write_text("{}")
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# A test model\n")
    return folder
