"""App fixtures: the two fixture models loaded as the app loads them, the app served in this
process, and ``python app.py`` in its own process pulling the classifier from the local Hub.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixtures_hub import REPO_ROOT, client_env, run_cli

HUB_SPAM_REPO = "bert-hub-kit/app-test-spam"
HUB_MISSING_REPO = "bert-hub-kit/app-test-missing-topics"
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(
    url: str, process: subprocess.Popen | None = None, timeout: float = START_TIMEOUT_S
) -> None:
    """Poll ``url`` until it answers 200; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="session")
def app_models(trained_classifier: Path, trained_topic_model: Path):
    """Both fixture models, loaded by ``app.load_models`` from SPAM_MODEL/TOPIC_MODEL."""
    from hub_utils.serving.loading import load_models

    models = load_models(
        REPO_ROOT, {"SPAM_MODEL": str(trained_classifier), "TOPIC_MODEL": str(trained_topic_model)}
    )
    assert models.classifier.ok, models.classifier.error
    assert models.topics.ok, models.topics.error
    return models


@pytest.fixture(scope="session")
def app_url(app_models) -> Iterator[str]:
    """The app, launched in this process on 127.0.0.1 at a free port, as ``app.main`` does."""
    import app

    demo = app.build_demo(app_models)
    _, url, _ = app.serve(
        demo, app_models, server_name="127.0.0.1", server_port=free_port(), quiet=True
    )
    yield url
    demo.close()


@dataclass
class HubApp:
    """``python app.py`` serving the classifier pulled from the local Hub, topics missing."""

    url: str
    commit: str
    hub_endpoint: str
    log: Path


@pytest.fixture(scope="session")
def hub_app(
    hub_endpoint: str, trained_classifier: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubApp]:
    """The classifier is pushed to the local Hub and the app started as a Space starts it:
    ``python app.py`` with SPAM_MODEL (pinned to the pushed commit), GRADIO_SERVER_NAME and
    GRADIO_SERVER_PORT; TOPIC_MODEL names a repo that does not exist."""
    work = tmp_path_factory.mktemp("hub-app")
    env = client_env(hub_endpoint, work / "hf_home")
    pushed = run_cli(env, "push", str(trained_classifier), HUB_SPAM_REPO)
    assert pushed.returncode == 0, pushed.stderr
    pushed_commit = re.search(r"/commit/([0-9a-f]{40})", pushed.stdout)
    assert pushed_commit, pushed.stdout
    commit = pushed_commit.group(1)
    port = free_port()
    env.update(
        SPAM_MODEL=HUB_SPAM_REPO,
        SPAM_MODEL_REVISION=commit,
        TOPIC_MODEL=HUB_MISSING_REPO,
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
    )
    env.pop("HF_TOKEN")  # the app only reads public repos
    log = work / "app.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(url, process)
    except (RuntimeError, TimeoutError) as err:
        process.kill()
        pytest.fail(f"{err}; its log:\n{log.read_text()[-3000:]}")
    yield HubApp(url, commit, hub_endpoint, log)
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
