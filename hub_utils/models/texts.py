"""Input texts for both models: what is cleaned or refused before a model reads them, and which
table column holds them."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Texts are cut to this many characters before tokenizing: far more than any model here reads
# (128 tokens is under 1,000 characters), and it bounds the work a huge paste can cause.
MAX_CHARS = 20_000
# Unicode's control characters (category Cc) except tab, line feed and carriage return.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Column names taken as the text of a table, in order of preference (compared in lower case):
# training data, the app's batch files and the file scorer all guess alike.
TEXT_COLUMNS = ("text", "message", "sms", "sentence", "content", "body", "review", "document")


def clean_text(text: str) -> tuple[str, list[str]]:
    """Cut huge texts and replace control characters by spaces; return the text and notes on
    what changed. Tabs and line breaks are kept; emoji, accents and any script pass unchanged.
    """
    notes = []
    if len(text) > MAX_CHARS:
        notes.append(f"text cut from {len(text):,} to {MAX_CHARS:,} characters")
        text = text[:MAX_CHARS]
    text, controls = _CONTROLS.subn(" ", text)
    if controls:
        notes.append(f"{controls} control character{'s' * (controls > 1)} replaced by spaces")
    return text, notes


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or ``ValueError`` naming the first one that is not a usable text."""
    if isinstance(texts, str):
        raise ValueError("predict takes a list of texts, not a single string")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"text {i} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise ValueError(f"text {i} is empty: there is nothing to find topics in")
    return texts


def guess_text_column(columns: Sequence[str]) -> str | None:
    """The first of ``columns`` named like a text column (``TEXT_COLUMNS``), or None."""
    by_lower = {str(column).strip().lower(): str(column) for column in columns}
    return next((by_lower[name] for name in TEXT_COLUMNS if name in by_lower), None)
