"""Benchmark ``python -m train topics`` on Google News against gensim LDA (not a test).

    python bench/topics.py                 # CLI defaults + LDA, about 10 minutes on 2 cores
    python bench/topics.py --sweep         # also one-change variants of the defaults

Each CTM run is the real CLI in a child process (so its peak RSS is its own); embeddings are
encoded once, timed, and cached for the runs after it. LDA gets the same vocabulary and number
of topics, and the same metrics. Results go to bench/results/topics.json and topics.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from train import topics_metrics  # noqa: E402
from train.topics_data import build_bag_of_words, cached_embeddings, load_corpus  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "gnews"
RESULTS = ROOT / "bench" / "results"
# Headlines written for this benchmark, not in the corpus, preprocessed like it.
NEW_DOCUMENTS = [
    "central bank raises interest rates inflation fears",
    "striker scores twice league leaders win derby",
    "new smartphone launch battery camera upgrade",
    "flu vaccine shortage hospitals winter",
    "oscar nominations announced best picture",
    "earthquake tsunami warning coast evacuated",
    "election poll senator leads primary race",
    "oil prices climb opec output cut",
]
# One change from the CLI defaults each, to show what each knob does.
SWEEP = {
    "combined": ["--model", "combined"],
    "dropout 0.2": ["--dropout", "0.2"],
    "lr 0.005": ["--lr", "0.005"],
    "vocab 1500": ["--vocab-size", "1500"],
    "vocab 3000": ["--vocab-size", "3000"],
}
TUNING_LOG = "## Tuning log"
CHILD = """
import json, resource, sys, time
from train.__main__ import main
started = time.perf_counter()
code = main(sys.argv[1:])
print("BENCH " + json.dumps({"code": code, "seconds": time.perf_counter() - started,
      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_ctm(name: str, flags: list[str], work: Path, args: argparse.Namespace) -> dict:
    """One CLI training run; its metrics, timings, peak RSS and predict latency."""
    output_dir = work / name.replace(" ", "-")
    command = [
        sys.executable,
        "-c",
        CHILD,
        "topics",
        "--dataset",
        str(args.dataset),
        "--labels-file",
        str(args.labels),
        "--n-topics",
        str(args.n_topics),
        "--output-dir",
        str(output_dir),
        "--cache-dir",
        str(work / "embeddings"),
        *flags,
    ]
    print(f"== {name}: {' '.join(flags) or 'CLI defaults'}", flush=True)
    child = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in child.stdout.splitlines() if line.startswith("BENCH ")]
    if child.returncode or not lines or json.loads(lines[-1][6:])["code"]:
        raise SystemExit(f"{name} failed:\n{child.stdout[-2000:]}\n{child.stderr[-4000:]}")
    run = json.loads(lines[-1][6:])
    training = json.loads((output_dir / "training_config.json").read_text())
    metrics = json.loads((output_dir / "eval_results.json").read_text())
    result = {
        "name": name,
        "flags": flags,
        **metrics,
        "run_seconds": round(run["seconds"], 1),
        "train_seconds": training["train_seconds"],
        "epochs_run": training["epochs_run"],
        "best_epoch": training["best_epoch"],
        "peak_rss_mb": round(run["peak_rss_mb"]),
        "predict_ms": predict_latency(output_dir),
        "topics": json.loads((output_dir / "topics.json").read_text())[:5],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "topics"}), flush=True)
    return result


def predict_latency(folder: Path) -> dict[str, float]:
    """Median and worst time of ``predict`` on one new document, after load and a warm-up."""
    from hub_utils.models.topic_model import TopicModel

    model = TopicModel.from_pretrained(folder)
    model.predict(NEW_DOCUMENTS[:1])  # loads the encoder
    times = []
    for _ in range(3):
        for text in NEW_DOCUMENTS:
            started = time.perf_counter()
            model.predict([text])
            times.append((time.perf_counter() - started) * 1000)
    return {"median": round(float(np.median(times)), 1), "max": round(max(times), 1)}


def cli_default(flag: str) -> Any:
    """The default of a ``python -m train topics`` flag."""
    from train.topics import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.get_default(flag)


def run_lda(args: argparse.Namespace, vocab_size: int) -> dict:
    """gensim LDA on the CLI's default vocabulary, scored like the CTM."""
    from gensim.corpora.dictionary import Dictionary
    from gensim.models import LdaModel

    texts = load_corpus(str(args.dataset))
    labels = [line.strip() for line in Path(args.labels).read_text().splitlines()]
    bow = build_bag_of_words(texts, vocab_size)
    dictionary = Dictionary([bow.vocab])  # exactly the CTM's vocabulary
    corpus = [dictionary.doc2bow(tokens) for tokens in bow.tokens]
    print("== LDA", flush=True)
    started = time.perf_counter()
    lda = LdaModel(
        corpus,
        num_topics=args.n_topics,
        id2word=dictionary,
        passes=args.lda_passes,
        iterations=100,
        alpha="auto",
        eta="auto",
        random_state=args.seed,
    )
    seconds = time.perf_counter() - started
    topics = [[word for word, _ in lda.show_topic(t, topn=25)] for t in range(args.n_topics)]
    assignments = [
        max(lda.get_document_topics(doc, minimum_probability=0.0), key=lambda pair: pair[1])[0]
        for doc in corpus
    ]
    kept_labels = [labels[i] for i in bow.kept]
    result = {
        "name": "gensim LDA",
        "flags": [f"passes={args.lda_passes}", "alpha=auto", "eta=auto"],
        "npmi": topics_metrics.npmi(topics, bow.tokens),
        "topic_diversity": topics_metrics.topic_diversity(topics),
        "inverted_rbo": topics_metrics.inverted_rbo(topics),
        "nmi": topics_metrics.nmi(kept_labels, assignments),
        "purity": topics_metrics.purity(kept_labels, assignments),
        "train_seconds": round(seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "topics": topics[:5],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "topics"}), flush=True)
    return result


def encoding_time(args: argparse.Namespace, work: Path) -> float:
    """Seconds to encode the corpus with the default encoder, cold (fills the cache)."""
    from hub_utils.models.encoder import DEFAULT_ENCODER

    texts = load_corpus(str(args.dataset))
    started = time.perf_counter()
    cached_embeddings(texts, DEFAULT_ENCODER, work / "embeddings")
    return round(time.perf_counter() - started, 1)


def write_markdown(report: dict, path: Path) -> None:
    def row(r: dict) -> str:
        latency = f"{r['predict_ms']['median']:.0f}" if "predict_ms" in r else "–"
        return (
            f"| {r['name']} | {r['npmi']:.3f} | {r['topic_diversity']:.3f} | "
            f"{r['inverted_rbo']:.3f} | {r['nmi']:.3f} | {r['purity']:.3f} | "
            f"{r['train_seconds']:.0f} | {r.get('epochs_run', '–')} | {r['peak_rss_mb']} | "
            f"{latency} |"
        )

    header = (
        "| run | NPMI | topic diversity | inverted RBO | NMI | purity | training s | "
        "epochs | peak RSS MB | predict ms |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [
        "# Topic model benchmark (generated by bench/topics.py)",
        "",
        f"Google News titles ({report['documents']} documents), {report['n_topics']} topics, "
        f"measured {report['date']} on {report['machine']}. Encoding the corpus with "
        f"all-MiniLM-L6-v2 took {report['encoding_seconds']:.0f} s (cached for the runs after). "
        "The CPU is shared with other engineers' work, so times are noisy (and pessimistic).",
        "",
        header,
        *(row(r) for r in report["runs"]),
        "",
        "Training s: the training loop (CTM) or the LDA fit; the whole CLI run adds loading, "
        "evaluation and writing. Peak RSS: the CLI process of each CTM run; for LDA, the "
        "benchmark process, which also held the encoder and the corpus embeddings. Predict ms: "
        "median of `predict` on one new document after load. Each CTM row but the first changes "
        "one flag from the CLI defaults.",
    ]
    # The hand-written tuning log below the table survives re-runs.
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    log = old[old.index(TUNING_LOG) :] if TUNING_LOG in old else ""
    path.write_text("\n".join(lines) + "\n\n" + log, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=DATA / "GoogleNews.txt")
    parser.add_argument("--labels", type=Path, default=DATA / "GoogleNews_LABEL.txt")
    parser.add_argument("--n-topics", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--lda-passes", type=int, default=10)
    parser.add_argument("--sweep", action="store_true", help="also run the one-change variants")
    parser.add_argument("--only", nargs="*", help="sweep variants to run (names in SWEEP)")
    parser.add_argument("--work-dir", type=Path, help="keep models and cache here")
    args = parser.parse_args()

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-topics-"))
    report = {
        "dataset": args.dataset.name,
        "documents": len(load_corpus(str(args.dataset))),
        "n_topics": args.n_topics,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs",
        "encoding_seconds": encoding_time(args, work),
    }
    runs = [run_ctm("CTM (CLI defaults)", [], work, args)]
    variants = {k: v for k, v in SWEEP.items() if args.only is None or k in args.only}
    if args.sweep or args.only:
        runs += [run_ctm(name, flags, work, args) for name, flags in variants.items()]
    runs.append(run_lda(args, vocab_size=cli_default("vocab_size")))
    report["runs"] = runs
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "topics.json").write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(report, RESULTS / "topics.md")
    print(f"written {RESULTS / 'topics.json'} and {RESULTS / 'topics.md'}")


if __name__ == "__main__":
    main()
