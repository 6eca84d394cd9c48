"""Time the training step of the default ``train classify`` model under the levers that change
its cost but not what it learns: thread settings, ``torch.compile`` and per-step overhead.

The levers that change what is learnt (freezing layers, fewer or larger steps) need their
quality over seeds: bench/spam.py measures those (bench/results/training_levers.md). Here each
setting trains a fresh copy of the default model (6-layer MiniLM, word embeddings fixed, fused
AdamW, batches of 32 grouped by length) for the same ``--steps`` batches of the SMS training
split (seed 42), after ``--warmup`` steps that are timed apart (``torch.compile`` compiles
then). Reported per setting: milliseconds per step split into collating the batch, forward +
backward, and clipping + optimiser + scheduler; and samples/s. The settings run one after the
other and the default runs again at the end, which shows how far the shared machine's speed
drifted meanwhile.

Writes bench/results/training_steps.json and .md. Usage: ``python bench/training_steps.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    get_linear_schedule_with_warmup,
)

from bench.machine import cpu_description, cpu_line  # noqa: E402
from hub_utils.models.encoder import DEFAULT_ENCODER, resolve_encoder  # noqa: E402
from train.classify import LengthGroupedBatches, _tokenize  # noqa: E402
from train.classify_data import load_classification_data  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "sms_spam" / "spamdata_v2.csv"
RESULTS = ROOT / "bench" / "results"
CORES = len(os.sched_getaffinity(0))
# name -> (threads, compiled, what it is)
SETTINGS: dict[str, tuple[int, bool, str]] = {
    "default": (CORES, False, f"the default: eager, {CORES} threads (one per core)"),
    "one_thread": (1, False, "eager, 1 thread"),
    "compiled": (CORES, True, f"torch.compile (inductor), {CORES} threads"),
}


def training_batches(steps: int, batch_size: int = 32) -> list[list[dict[str, Any]]]:
    """The first ``steps`` uncollated batches of the default run's first epoch (seed 42)."""
    splits, _ = load_classification_data(
        str(DATA),
        text_column="text",
        label_column="label",
        label_names=["ham", "spam"],
        validation_size=0.15,
        test_size=0.15,
        seed=42,
    )
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder(DEFAULT_ENCODER))
    features = _tokenize(tokenizer, splits["train"], max_length=128)
    order = LengthGroupedBatches([len(f["input_ids"]) for f in features], batch_size, seed=42)
    return [[features[i] for i in rows] for rows in order][:steps]


def time_setting(
    batches: list[list[dict]],
    collate: DataCollatorWithPadding,
    warmup: int,
    threads: int,
    compiled: bool,
) -> dict[str, Any]:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        resolve_encoder(DEFAULT_ENCODER), num_labels=2
    )
    model.get_input_embeddings().weight.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=1e-4, fused=True)
    scheduler = get_linear_schedule_with_warmup(optimizer, 10, 1000)
    forward: Callable[..., Any] = torch.compile(model, dynamic=True) if compiled else model
    model.train()
    parts: dict[str, list[float]] = {"collate": [], "forward_backward": [], "optimizer": []}
    warmup_started = time.perf_counter()
    warmup_seconds = 0.0
    for step, rows in enumerate(batches):
        if step == warmup:
            warmup_seconds = time.perf_counter() - warmup_started
        started = time.perf_counter()
        batch = collate(rows)
        labels = batch.pop("labels")
        collated = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(forward(**batch).logits, labels)
        loss.backward()
        backward = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        done = time.perf_counter()
        if step >= warmup:
            parts["collate"].append(collated - started)
            parts["forward_backward"].append(backward - collated)
            parts["optimizer"].append(done - backward)
    samples = sum(len(rows) for rows in batches[warmup:])
    total = sum(sum(values) for values in parts.values())
    return {
        "threads": threads,
        "compiled": compiled,
        "warmup_seconds": round(warmup_seconds, 1),
        "ms_per_step": {name: round(1000 * statistics.mean(v), 1) for name, v in parts.items()},
        "samples_per_second": round(samples / total, 1),
    }


def write_markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Training step levers (`python bench/training_steps.py`)",
        "",
        f"{result['cores']} CPU cores, torch {result['torch']}; load average "
        f"{result['load_start']} at start, {result['load_end']} at the end. "
        + cpu_line(result["cpu"]),
        "",
        f"The default model's first {result['steps']} batches of the SMS training split (seed "
        f"42, batches of 32 grouped by length), after {result['warmup']} warm-up steps; "
        "milliseconds per step, mean.",
        "",
        "| setting | warm-up steps (s) | collate | forward + backward | clip + optimiser + "
        "scheduler | samples/s | vs default |",
        "|---|---|---|---|---|---|---|",
    ]
    default = result["settings"]["default"]["samples_per_second"]
    for name, timing in result["settings"].items():
        ms = timing["ms_per_step"]
        label = SETTINGS[name.removesuffix("_again")][2] + (", again" if "_again" in name else "")
        lines.append(
            f"| {label} | {timing['warmup_seconds']} | {ms['collate']} | "
            f"{ms['forward_backward']} | {ms['optimizer']} | {timing['samples_per_second']} | "
            f"{timing['samples_per_second'] / default:.2f}x |"
        )
    for name, reason in result.get("failed", {}).items():
        lines.append(f"| {SETTINGS[name][2]} | failed: {reason} | | | | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per setting")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before them")
    args = parser.parse_args()
    result: dict[str, Any] = {
        "cpu": cpu_description(),
        "cores": CORES,
        "torch": torch.__version__,
        "load_start": round(os.getloadavg()[0], 2),
        "steps": args.steps,
        "warmup": args.warmup,
        "settings": {},
    }
    batches = training_batches(args.warmup + args.steps)
    collate = DataCollatorWithPadding(
        AutoTokenizer.from_pretrained(resolve_encoder(DEFAULT_ENCODER))
    )
    for name in [*SETTINGS, "default_again"]:
        threads, compiled, label = SETTINGS[name.removesuffix("_again")]
        print(f"timing {label}", flush=True)
        try:
            result["settings"][name] = time_setting(
                batches, collate, args.warmup, threads, compiled
            )
        except Exception as err:  # e.g. no C++ compiler for inductor: reported, not fatal
            result.setdefault("failed", {})[name] = f"{type(err).__name__}: {err}"[:300]
    torch.set_num_threads(CORES)
    result["load_end"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "training_steps.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "training_steps.md").write_text(write_markdown(result))
    print(write_markdown(result))


if __name__ == "__main__":
    main()
