"""Benchmark the file scorer (``python -m hub_utils classify-file``) on generated SMS files.

1. Generates ``--sizes`` messages (default 100,000 and 1,000,000) into a temporary folder (never
   the repo): SMS texts from ``../shared/data/sms_spam/spamdata_v2.csv`` with a random number
   or word added, so that no two are alike; the smaller file is the larger one's first rows.
2. The model's own throughput in this process: ``TextClassifier.predict`` on 5,000 of the
   same texts in one call (each text runs alone, unpadded, one thread per core; the scorer
   calls it on chunks of 4,096). Measured before and after the scorer's first run, since the
   shared machine's load drifts; the ratio uses their mean.
3. The scorer on the smaller file, in its own process: messages/s (end to end, start-up and
   the file's checking pass included) and its peak RSS (VmHWM, from ``wait4``).
4. ``--resume``: a run killed (SIGKILL) at about 50 %, then resumed; the output is compared
   byte for byte with step 3's.
5. ``--shard 0/2`` and ``1/2`` at once (one ONNX Runtime thread each), then ``merge-scores``:
   the wall time against step 3's, and the merged file against step 3's output.
6. The chunk size does not change the answers: 4,096 messages scored in chunks of 128 (the
   app's batch tab) and in one of 4,096 (the int8 export quantizes activations per run, so
   the classifier runs each text alone; batched, 1.25 % of labels changed).
7. The scorer on the larger file: peak RSS against the smaller one's (it must not grow), and
   its rate against the model's own throughput measured just before (step 2's second) and
   just after it. It takes long on a shared machine: its peak RSS and rows done are saved
   every 30 s, so a run cut short still reports them.

Writes bench/results/batch_scoring.json and .md after every step.
Usage: ``python bench/batch_scoring.py [--model models/spam] [--sizes 100000,1000000]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.machine import cpu_description, cpu_line  # noqa: E402
from hub_utils.models.classifier import TextClassifier  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SMS_FILE = ROOT.parent / "shared" / "data" / "sms_spam" / "spamdata_v2.csv"
WORDS = ["ok", "thanks", "later", "now", "pls", "tonight", "free", "call", "txt", "soon"]
SIZES = (100_000, 1_000_000)
MODEL_SAMPLE = 5_000
CHUNK_SAMPLE = 4_096


def generate(folder: Path, sizes: list[int], seed: int = 0) -> list[Path]:
    """``max(sizes)`` messages as CSV files (columns id, text), one per size: the first rows."""
    with SMS_FILE.open(encoding="utf-8", newline="") as file:
        texts = [row["text"] for row in csv.DictReader(file) if row["text"].strip()]
    rng = random.Random(seed)
    paths = [folder / f"messages-{size}.csv" for size in sizes]
    files = [path.open("w", encoding="utf-8", newline="") for path in paths]
    writers = [csv.writer(file, lineterminator="\n") for file in files]
    for writer in writers:
        writer.writerow(["id", "text"])
    for i in range(max(sizes)):
        text = rng.choice(texts)
        extra = str(rng.randrange(10_000)) if rng.random() < 0.5 else rng.choice(WORDS)
        row = [i, f"{text} {extra}" if rng.random() < 0.8 else f"{extra} {text}"]
        for size, writer in zip(sizes, writers, strict=True):
            if i < size:
                writer.writerow(row)
    for file in files:
        file.close()
    return paths


def texts_of(path: Path, n: int) -> list[str]:
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        return [row["text"] for _, row in zip(range(n), reader, strict=False)]


def model_throughput(classifier: TextClassifier, texts: list[str]) -> float:
    started = time.perf_counter()
    classifier.predict(texts, batch_size=64)  # sorts all of them by length
    return len(texts) / (time.perf_counter() - started)


def scorer_command(model: str, source: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "hub_utils", "classify-file", str(source), "--model", model,
        "--output", str(output), "--no-progress", *extra,
    ]  # fmt: skip


def run_scorer(command: list[str], watch: Path | None = None, **kill: Any) -> dict[str, Any]:
    """Run one scorer process: wall seconds, peak RSS (MB) and its exit status. ``watch``: its
    progress file, read every second; ``kill_at`` rows: SIGKILL once that many are written;
    ``save``: called every 30 s with the samples so far (for the long run)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    samples: list[dict[str, Any]] = []
    last_save = started
    # wait4 and not poll(): poll would reap the process and lose its resource usage.
    while watch is not None and not (waited := os.wait4(process.pid, os.WNOHANG))[0]:
        time.sleep(1)
        rows = _rows_written(watch)
        samples.append({"s": round(time.perf_counter() - started), "rows": rows, **_rss(process)})
        if kill.get("kill_at") and rows >= kill["kill_at"]:
            process.send_signal(signal.SIGKILL)
            waited = os.wait4(process.pid, 0)
            break
        if kill.get("save") and time.perf_counter() - last_save > 30:
            kill["save"](samples)
            last_save = time.perf_counter()
    else:
        waited = os.wait4(process.pid, 0) if watch is None else waited
    _, status, usage = waited
    output = process.stdout.read() if process.stdout else ""
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "status": os.waitstatus_to_exitcode(status),
        "summary": re.sub(r"/\S*/", "", output.strip()),  # file names, not local paths
        "samples": samples,
    }


def _rows_written(progress: Path) -> int:
    try:
        return int(json.loads(progress.read_text()).get("rows_written", 0))
    except (OSError, ValueError):
        return 0


def _rss(process: subprocess.Popen[str]) -> dict[str, float]:
    try:
        status = Path(f"/proc/{process.pid}/status").read_text()
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmHWM", "VmRSS") if key in fields}


def chunk_agreement(classifier: TextClassifier, texts: list[str]) -> dict[str, Any]:
    """Labels and probabilities of ``texts`` scored in chunks of 128 and of 4,096."""

    def scored(chunk: int) -> np.ndarray:
        predictions = []
        for start in range(0, len(texts), chunk):
            predictions += classifier.predict(texts[start : start + chunk])
        return np.array(
            [[p.probabilities[label] for label in classifier.labels] for p in predictions]
        )

    small, large = scored(128), scored(4096)
    return {
        "messages": len(texts),
        "label_agreement": float((small.argmax(1) == large.argmax(1)).mean()),
        "max_probability_difference": float(np.abs(small - large).max()),
        "mean_probability_difference": float(np.abs(small - large).mean()),
        "identical": bool((small == large).all()),
    }


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def write_markdown(result: dict[str, Any]) -> str:
    r = result
    lines = [
        "# Batch scoring benchmark (`python bench/batch_scoring.py`)",
        "",
        f"{r['cores']} CPU cores; load average {r['load_start']} at start, "
        f"{r.get('load_end', 'n/a')} at the end (the machine is shared). Model: `{r['model']}`.",
        "",
        cpu_line(r["cpu"]),
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
    ]
    own = r.get("model_messages_per_s")
    if own:
        before_after = " / ".join(f"{value:,.0f}" for value in own)
        lines.append(f"| model's own throughput (`TextClassifier.predict`), before / after | "
                     f"{before_after} messages/s | | |")  # fmt: skip
    small, large = (r["sizes"] + [0])[:2]
    one = r.get("runs", {}).get("small")
    if one:
        rate = small / one["seconds"]
        lines.append(f"| scorer, {small:,} messages, end to end | {one['seconds']:,.0f} s = "
                     f"{rate:,.0f} messages/s | | |")  # fmt: skip
        if own:
            ratio = rate / float(np.mean(own))
            lines.append(f"| ratio scorer / model | {ratio:.2f} | ≥ 0.90 | "
                         f"{_met(ratio >= 0.9)} |")  # fmt: skip
        peak = one["peak_rss_mb"]
        lines.append(f"| peak RSS, {small:,} messages | {peak:,.0f} MB | < 1,024 MB | "
                     f"{_met(peak < 1024)} |")  # fmt: skip
    million = r.get("runs", {}).get("large")
    if million and "peak_rss_mb" in million:
        done = million.get("rows_done", large if million.get("status") == 0 else 0)
        state = "complete" if million.get("status") == 0 else f"{done:,} rows done when read"
        peak = million["peak_rss_mb"]
        lines.append(f"| peak RSS, {large:,} messages ({state}) | {peak:,.0f} MB | < 1,024 MB, "
                     f"not growing | {_met(peak < 1024)} |")  # fmt: skip
        if million.get("status") == 0:
            rate = large / million["seconds"]
            lines.append(f"| scorer, {large:,} messages, end to end | {million['seconds']:,.0f} s "
                         f"= {rate:,.0f} messages/s | | |")  # fmt: skip
            if "model_messages_per_s_after" in million and own:
                after = million["model_messages_per_s_after"]
                ratio = rate / float(np.mean([own[-1], after]))
                lines.append(f"| model's own throughput after it; ratio scorer / model (mean "
                             f"of the measures before and after) | {after:,.0f} messages/s; "
                             f"{ratio:.2f} | ≥ 0.90 | {_met(ratio >= 0.9)} "
                             "|")  # fmt: skip
    resume = r.get("resume")
    if resume:
        lines.append(f"| `--resume` after SIGKILL at {resume['killed_at_rows']:,} rows: output "
                     f"byte-identical | {resume['identical']} | yes | "
                     f"{_met(resume['identical'])} |")  # fmt: skip
    shards = r.get("shards")
    if shards:
        lines.append(f"| 2 shards at once (1 thread each) + merge, against 1 process | "
                     f"{shards['seconds']:,.0f} s vs {one['seconds'] if one else 0:,.0f} s "
                     f"({shards['speedup']:.2f}×); merged = single run: {shards['identical']} "
                     "| | |")  # fmt: skip
    agreement = r.get("chunk_agreement")
    if agreement:
        lines.append(f"| chunks of 4,096 vs the app's 128 ({agreement['messages']:,} messages): "
                     f"labels agreeing, largest probability difference | "
                     f"{agreement['label_agreement']:.2%}, "
                     f"{agreement['max_probability_difference']:.3f} | identical | "
                     f"{_met(agreement['identical'])} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def save(result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "batch_scoring.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "batch_scoring.md").write_text(write_markdown(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/spam")
    parser.add_argument("--skip-million", action="store_true", help="steps 1-6 only")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="for a quick try")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")][: 1 if args.skip_million else 2]
    result: dict[str, Any] = {
        "model": args.model,
        "sizes": sizes,
        "cpu": cpu_description(),
        "cores": len(os.sched_getaffinity(0)),
        "load_start": round(os.getloadavg()[0], 2),
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="batch-scoring-") as temporary:
        folder = Path(temporary)
        paths = generate(folder, sizes)
        small, n_small = paths[0], sizes[0]
        classifier = TextClassifier.from_folder(ROOT / args.model)
        sample = texts_of(small, min(MODEL_SAMPLE, n_small))
        result["model_messages_per_s"] = [model_throughput(classifier, sample)]
        save(result)

        reference = folder / "one.csv"
        result["runs"]["small"] = run_scorer(scorer_command(args.model, small, reference))
        result["model_messages_per_s"].append(model_throughput(classifier, sample))
        save(result)

        resumed = folder / "resumed.csv"
        command = scorer_command(args.model, small, resumed)
        progress = folder / "resumed.csv.progress.json"
        killed = run_scorer(command, watch=progress, kill_at=n_small // 2)
        killed_at = _rows_written(progress)
        again = run_scorer([*command, "--resume"])
        result["resume"] = {
            "killed_at_rows": killed_at,
            "kill_status": killed["status"],
            "resume_seconds": again["seconds"],
            "identical": resumed.read_bytes() == reference.read_bytes(),
        }
        save(result)

        started = time.perf_counter()
        parts = [folder / f"part-{i}.csv" for i in range(2)]
        processes = [
            subprocess.Popen(
                scorer_command(args.model, small, part, "--shard", f"{i}/2", "--threads", "1"),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
            for i, part in enumerate(parts)
        ]
        statuses = [process.wait() for process in processes]
        merged = folder / "merged.csv"
        merge = [sys.executable, "-m", "hub_utils", "merge-scores", str(merged), *map(str, parts)]
        subprocess.run(merge, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        result["shards"] = {
            "seconds": seconds,
            "statuses": statuses,
            "speedup": result["runs"]["small"]["seconds"] / seconds,
            "identical": merged.read_bytes() == reference.read_bytes(),
        }
        save(result)

        result["chunk_agreement"] = chunk_agreement(classifier, sample[:CHUNK_SAMPLE])
        save(result)

        if len(paths) > 1:
            big_output = folder / "million.csv"
            watch = folder / "million.csv.progress.json"
            million: dict[str, Any] = {}
            result["runs"]["large"] = million

            def partial(samples: list[dict[str, Any]]) -> None:
                million.update(
                    rows_done=samples[-1]["rows"],
                    seconds=samples[-1]["s"],
                    peak_rss_mb=max(s.get("VmHWM", 0) for s in samples),
                    samples=samples[::30],
                    status=None,
                )
                result["load_end"] = round(os.getloadavg()[0], 2)
                save(result)

            run = run_scorer(scorer_command(args.model, paths[1], big_output), watch, save=partial)
            run["samples"] = run["samples"][::30]
            million.clear()
            million.update(run)
            million["model_messages_per_s_after"] = model_throughput(classifier, sample)
    result["load_end"] = round(os.getloadavg()[0], 2)
    save(result)
    print(write_markdown(result))


if __name__ == "__main__":
    main()
