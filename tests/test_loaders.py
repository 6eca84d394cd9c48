"""The public loading API: ``from hub_utils import load_classifier, load_topic_model``, each
returning its protocol, and one error type for a folder of the wrong kind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hub_utils import NotAModelFolderError, load_classifier, load_topic_model
from tests.fixtures_classify import HAM_EXAMPLE, SPAM_EXAMPLE, synthetic_spam_table
from tests.fixtures_hub import REPO_ROOT


def test_both_loaders_serve_their_exports(trained_classifier: Path, trained_topic_model: Path):
    classifier = load_classifier(trained_classifier)
    assert classifier.backend == "ONNX Runtime, int8 weights"
    assert [p.label for p in classifier.predict([SPAM_EXAMPLE, HAM_EXAMPLE])] == ["spam", "ham"]
    topics = load_topic_model(trained_topic_model)
    assert topics.backend == "ONNX Runtime, float32"
    distribution = topics.predict(["football match goal team"])
    assert distribution.shape == (1, 5)
    np.testing.assert_allclose(distribution.sum(), 1.0, atol=1e-5)


def test_a_text_gets_the_same_answer_whatever_it_is_batched_with(trained_classifier: Path):
    """The int8 export scales activations per run, so the classifier runs each text alone:
    alone, in a padded batch, in another order or on one thread, its probabilities are the
    same to the last bit (the file scorer and the app rely on it)."""
    texts = synthetic_spam_table(n_ham=40, n_spam=20, seed=3)["text"].tolist()
    texts[7] = texts[7] * 20  # one long text pads every other in its batch
    classifier = load_classifier(trained_classifier)
    batched = [p.probabilities for p in classifier.predict(texts, batch_size=64)]
    alone = [classifier.predict([text])[0].probabilities for text in texts]
    one_thread = load_classifier(trained_classifier, threads=1)
    reversed_order = [p.probabilities for p in one_thread.predict(texts[::-1], batch_size=7)]
    assert batched == alone == reversed_order[::-1]


def test_a_folder_of_the_wrong_kind_raises_one_error_type(
    trained_classifier: Path, trained_topic_model: Path, tmp_path: Path
):
    with pytest.raises(NotAModelFolderError, match="not a saved classifier: tokenizer.json"):
        load_classifier(trained_topic_model)
    with pytest.raises(NotAModelFolderError, match="not a saved topic model: vocab.json"):
        load_topic_model(trained_classifier)
    with pytest.raises(NotAModelFolderError, match="config.json is missing"):
        load_classifier(tmp_path)
    # It is a ValueError too, so callers that caught the loaders' old errors still do.
    assert issubclass(NotAModelFolderError, ValueError)


def test_importing_hub_utils_loads_no_model_runtime():
    """``python -m hub_utils push`` and the Space deploy need only the Hub client: the loaders
    are imported on first use."""
    code = (
        "import json, sys, hub_utils, hub_utils.hub; "
        "print(json.dumps([m for m in ('onnxruntime', 'torch', 'tokenizers') if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
