"""What published files may say about data and models: Hub ids as they are, never a local path.

Training records data sets and encoders through these functions (``training_config.json``,
TensorBoard hparams, ``config.json``, cards), and ``hub_utils.hub.audit`` checks the result.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from hub_utils.models.encoder import DEFAULT_ENCODER, packaged_encoder_path

DEFAULT_LICENSE = "apache-2.0"
DEFAULT_LANGUAGE = "en"  # the default encoder, all-MiniLM-L6-v2, is English

# License ids the Hub accepts in a card's `license:` field, from the table in the Hub docs'
# licenses page (https://huggingface.co/docs/hub/repositories-licenses); `other` needs a
# `license_name` too.
HUB_LICENSES = frozenset(
    """
    apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
    bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause
    bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0
    cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0
    cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0
    cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1
    agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc lppl-1.3c ms-pl mpl-2.0 odc-by
    odbl openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
    deepfloyd-if-license llama2 llama3 llama3.1 llama3.2 llama3.3 gemma unknown other
    """.split()
)

# The 🤗 datasets builder that reads each local file type. A card's model-index names a local
# data set by its file name and this builder as `dataset.type` (as transformers' Trainer does
# for local files): `type` is meant to be a Hub dataset id, and a made-up id would link nowhere.
_BUILDERS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".txt": "text",
}
# A Hub cache snapshot folder: .../models--OWNER--NAME/snapshots/SHA
_CACHE_SNAPSHOT = re.compile(r"models--(?P<owner>[^/\\]+?)--(?P<name>[^/\\]+)$")


def is_hub_id(name: str | None, *, namespaced: bool = True) -> bool:
    """True for a valid Hub repo id (``owner/name``; a bare ``name`` too unless ``namespaced``)
    that does not look like a local path."""
    if not name or name.startswith((".", "/", "~", "\\")) or "\\" in name or ":" in name:
        return False
    if name.count("/") > 1 or (namespaced and name.count("/") != 1):
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def is_local_source(source: str) -> bool:
    """True when ``source`` names a local file or folder rather than a Hub dataset id."""
    path = Path(source).expanduser()
    return (
        path.suffix.lower() in _BUILDERS
        or path.exists()
        or source.startswith((".", "/", "~"))
        or not is_hub_id(source, namespaced=False)
    )


def public_source(source: str | None) -> str | None:
    """How published files name a data file: a Hub dataset id as it is, a local file or folder
    by its name only (its folders may hold a user name or a private project)."""
    if source is None:
        return None
    return Path(source).name if is_local_source(source) else source


def local_dataset_type(name: str) -> str:
    """The model-index ``dataset.type`` of a local data file: the builder that reads it."""
    return _BUILDERS.get(Path(name).suffix.lower(), "text")


def public_model_id(name_or_path: str | None) -> str | None:
    """The Hub id of an encoder given by id or local folder, or None when it is not known.

    A Hub id is kept; the packaged all-MiniLM-L6-v2 and Hub cache snapshots map to their id;
    another folder counts only if its ``config.json`` names a Hub id in ``_name_or_path``. That
    is skipped for sentence-transformers folders, whose ``_name_or_path`` names the model they
    were trained from (the packaged MiniLM's says ``nreimers/MiniLM-L6-H384-uncased``).
    """
    if not name_or_path:
        return None
    if name_or_path in (DEFAULT_ENCODER, "all-MiniLM-L6-v2"):
        return DEFAULT_ENCODER
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        return name_or_path if is_hub_id(name_or_path) else None
    path = path.resolve()
    packaged = packaged_encoder_path()
    if packaged is not None and path == packaged.resolve():
        return DEFAULT_ENCODER
    if path.parent.name == "snapshots":
        match = _CACHE_SNAPSHOT.search(path.parent.parent.name)
        if match and is_hub_id(f"{match['owner']}/{match['name']}"):
            return f"{match['owner']}/{match['name']}"
    if (path / "config_sentence_transformers.json").is_file():
        return None
    try:
        origin = json.loads((path / "config.json").read_text(encoding="utf-8"))["_name_or_path"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return origin if isinstance(origin, str) and is_hub_id(origin) else None


def local_model_name(name_or_path: str) -> str:
    """A local model folder's own name, which cards may show (never its parent folders)."""
    return Path(name_or_path).expanduser().name or "a local folder"
