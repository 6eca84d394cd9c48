"""Fixtures for the classifier: a small synthetic spam data set, a tiny BERT, a trained model.

The tiny BERT (2 layers, 64 wide, random weights) uses the packaged MiniLM tokenizer, so a real
training run takes seconds; the packaged MiniLM itself is exercised by the benchmark.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from hub_utils.models.encoder import packaged_encoder_path

SPAM_TEMPLATES = [
    "WINNER! Claim your free {prize} now, call {num}",
    "Free entry to win a {prize}! Text WIN to {num} now",
    "URGENT! You have won a {prize}. Call {num} to claim your cash reward",
    "Congratulations, you won a guaranteed {prize}! Reply CLAIM to {num}",
]
HAM_TEMPLATES = [
    "Are we still meeting for {meal} at {time}?",
    "I'll be home late tonight, see you at {time}",
    "Can you pick up {item} on the way back?",
    "Thanks for {meal} yesterday, it was lovely",
    "Mum says {meal} is ready at {time}, don't be late",
]
SPAM_EXAMPLE = "WINNER! Claim your free cash prize now, call 09061701461"
HAM_EXAMPLE = "Are we still meeting for lunch at noon?"


def synthetic_spam_table(n_ham: int = 90, n_spam: int = 45, seed: int = 0) -> pd.DataFrame:
    """Ham and spam messages built from templates (label 1 = spam, like the SMS file)."""
    rng = random.Random(seed)
    fill = {
        "prize": ["cash prize", "holiday", "mobile phone", "£1000 voucher", "car"],
        "num": ["09061701461", "87121", "80062", "08712300220"],
        "meal": ["lunch", "dinner", "breakfast", "coffee"],
        "time": ["noon", "six", "7pm", "half past eight"],
        "item": ["milk", "the kids", "bread", "my parcel"],
    }

    def make(template: str) -> str:
        return template.format(**{key: rng.choice(values) for key, values in fill.items()})

    rows = [(0, make(rng.choice(HAM_TEMPLATES))) for _ in range(n_ham)]
    rows += [(1, make(rng.choice(SPAM_TEMPLATES))) for _ in range(n_spam)]
    rng.shuffle(rows)
    return pd.DataFrame(rows, columns=["label", "text"])


@pytest.fixture(scope="session")
def spam_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "spam.csv"
    synthetic_spam_table().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT with the MiniLM vocabulary, saved as a base model."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)  # a fixed initialisation keeps the test runs identical
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(packaged_encoder_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def classify_args(dataset: Path, base_model: Path, output_dir: Path, *extra: str) -> list[str]:
    """``python -m train classify`` arguments for a fast run of the tiny BERT."""
    return [
        "classify",
        "--dataset",
        str(dataset),
        "--label-names",
        "ham,spam",
        "--base-model",
        str(base_model),
        "--output-dir",
        str(output_dir),
        "--epochs",
        "8",
        "--batch-size",
        "16",
        "--lr",
        "2e-3",
        "--max-length",
        "48",
        "--log-every",
        "2",
        "--no-freeze-embeddings",  # a random tiny BERT learns only with its embeddings
        "--run-name",
        "test-run",
        *extra,
    ]


@pytest.fixture(scope="session")
def trained_classifier(tmp_path_factory, spam_csv, tiny_bert) -> Path:
    """Folder written by a real ``python -m train classify`` run on the synthetic data."""
    from train.__main__ import main

    output_dir = tmp_path_factory.mktemp("models") / "spam"
    assert main(classify_args(spam_csv, tiny_bert, output_dir)) == 0
    return output_dir
