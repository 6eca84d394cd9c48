"""Test-wide settings: offline Hub, caches in a temporary folder, small CPU thread pools."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_CACHE_ROOT = Path(tempfile.mkdtemp(prefix="bertkit-tests-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HOME", str(_CACHE_ROOT / "hf_home"))
os.environ.setdefault("MPLCONFIGDIR", str(_CACHE_ROOT / "mpl"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO_ROOT = Path(__file__).resolve().parent.parent

# Each area keeps its fixtures in its own module.
pytest_plugins: list[str] = [
    "tests.fixtures_classify",
    "tests.fixtures_hub",
    "tests.fixtures_topics",
    "tests.fixtures_app",  # after the modules it imports, so pytest can rewrite their asserts
]
