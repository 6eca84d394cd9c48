"""Publishing the topic model and loading it back by repo id, over the real client."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from tests.fixtures_hub import run_cli, run_python

TEXTS = ["stocks fall as oil prices climb", "new smartphone released with a bigger screen"]

# Lists the repo and loads the topic model by repo id, as a user would.
LOAD_TOPICS = """
import json, sys
from huggingface_hub import HfApi
from hub_utils.models.topic_model import TopicModel
repo_id, texts = sys.argv[1], json.loads(sys.argv[2])
topics = TopicModel.from_pretrained(repo_id).predict(texts)
print(json.dumps({"files": HfApi().list_repo_files(repo_id), "topics": topics.tolist()}))
"""


def test_topic_model_round_trips_through_the_hub(trained_topic_model: Path, hub_env: dict) -> None:
    from hub_utils.models.topic_model import TopicModel

    repo_id = "bert-hub-kit/tiny-topics"
    pushed = run_cli(hub_env, "push", str(trained_topic_model), repo_id)
    assert pushed.returncode == 0, pushed.stderr

    remote = run_python(hub_env, LOAD_TOPICS, repo_id, json.dumps(TEXTS))

    local_files = {
        p.relative_to(trained_topic_model).as_posix()
        for p in trained_topic_model.rglob("*")
        if p.is_file()
    }
    assert set(remote["files"]) == local_files
    assert "README.md" in remote["files"]
    assert [p for p in remote["files"] if re.fullmatch(r"runs/.+/events\.out\.tfevents\..+", p)]
    local = TopicModel.from_pretrained(trained_topic_model).predict(TEXTS)
    np.testing.assert_allclose(np.array(remote["topics"]), local, atol=1e-5)
