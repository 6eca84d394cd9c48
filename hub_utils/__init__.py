"""Publish, load and serve this project's models; imports neither ``train`` nor ``app``.

- ``hub_utils.hub``: Hub I/O (push, pull, the demo Space).
- ``hub_utils.models``: the saved formats and their loaders.
- ``hub_utils.serving``: what only the app uses (model sources, views, batch files).

The loaders are importable from here; each is imported on first use, so ``python -m hub_utils
push`` needs neither ONNX Runtime nor torch::

    from hub_utils import load_classifier, load_topic_model
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hub_utils.errors import HubError, NotAModelFolderError

if TYPE_CHECKING:
    from hub_utils.hub import pull, push
    from hub_utils.models.classifier import TextClassifier, load_classifier
    from hub_utils.models.topic_model import TopicModel
    from hub_utils.models.topic_onnx import OnnxTopicModel, load_topic_model

_LAZY = {
    "load_classifier": "hub_utils.models.classifier",
    "TextClassifier": "hub_utils.models.classifier",
    "load_topic_model": "hub_utils.models.topic_onnx",
    "OnnxTopicModel": "hub_utils.models.topic_onnx",
    "TopicModel": "hub_utils.models.topic_model",
    "push": "hub_utils.hub",
    "pull": "hub_utils.hub",
}
__all__ = [
    "HubError",
    "NotAModelFolderError",
    "OnnxTopicModel",
    "TextClassifier",
    "TopicModel",
    "load_classifier",
    "load_topic_model",
    "pull",
    "push",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hub_utils' has no attribute {name!r}")
