"""Load-test the Gradio app: start-up, memory, latency and throughput against the model itself.

1. ``python app.py`` with both models: seconds from launch until it answers HTTP (models are
   loaded and warmed before the server starts, so that is "ready"), median of 3 starts. Taking
   turns with them, the baseline: the same models without their ONNX exports, which the app
   then serves with PyTorch (importing torch, transformers and sentence-transformers). Beside
   them, the seconds a bare ``python -c`` takes to import the libraries the app needs, the
   floor no app code can remove (this machine's speed drifts, so all are measured together).
2. One request at a time: ``/classify`` over Gradio's HTTP API (POST, then read the event
   stream), and ``/classify`` and ``/topics`` with ``gradio_client``, which polls its event
   queue every 50 ms and so cannot answer faster than that.
   The JSON route ``/v1/text-classification`` (plain HTTP POST), one request at a time.
3. 32 concurrent ``gradio_client`` clients sending a bounded number of ``/classify`` requests:
   requests/s, p50/p95/p99 latency and failed requests. Then the same through one Client shared
   by 32 threads (how a web backend calls a Space), and 32 concurrent HTTP clients on the JSON
   route.
4. The spam model's own batched throughput, just before and just after step 3:
   ``TextClassifier.predict`` in this process, batched as the app batches (``Models.MAX_BATCH``
   messages in arrival order, run ``Models.SUB_BATCH`` at a time sorted by length), on the same
   SMS messages (tokenizing included); the ratios compare step 3 to their mean, since the shared
   machine's load drifts. Beside it, the model's best case: the whole set sorted by length.
5. The app's peak RSS (the kernel's high-water mark, VmHWM) over the whole run, and the CPU
   model and the flags that decide inference speed (avx2, avx512f, avx512_vnni, amx).

Models: --spam-model / --topic-model, by default models/spam and models/topics (``make
models``). Writes bench/results/app_load.json and .md. Usage: ``python bench/app_load.py``.
"""

from __future__ import annotations

import argparse
import csv
import functools
import itertools
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import torch  # noqa: E402
from gradio_client import Client  # noqa: E402

from bench.machine import cpu_description, cpu_line  # noqa: E402
from hub_utils.models.classifier import TextClassifier  # noqa: E402
from hub_utils.serving.json_api import CLASSIFICATION_ROUTE  # noqa: E402
from hub_utils.serving.loading import Models  # noqa: E402

MAX_BATCH_SIZE = Models.MAX_BATCH

DATA = ROOT.parent / "shared" / "data" / "sms_spam" / "spamdata_v2.csv"
RESULTS = ROOT / "bench" / "results"
SSL_CONTEXT = ssl.create_default_context()
TOPIC_TEXTS = [
    "stocks fall as oil prices climb",
    "new smartphone released with bigger screen",
    "striker scores twice as city win the derby",
]
TARGETS = {
    "startup_seconds": 10,
    "peak_rss_mb": 1536,
    "failed_requests": 0,
    "throughput_ratio": 0.5,
    "single_p50_ms": 50,
    "json_p50_ms": 20,
    "json_throughput_ratio": 0.5,
}


IMPORT_FLOOR = "import gradio, onnxruntime, tokenizers"
STARTS = 3


def sms_messages(n: int) -> list[str]:
    with DATA.open(encoding="utf-8", newline="") as handle:
        return [row["text"] for row in itertools.islice(csv.DictReader(handle), n)]


@functools.cache
def _classifier(folder: Path) -> TextClassifier:
    classifier = TextClassifier.from_folder(folder)
    classifier.predict(["warm up"])
    return classifier


def model_throughput(folder: Path, messages: list[str], app_batches: bool = True) -> float:
    """Messages/s of the model alone (best of 3 passes): batched as the app batches (the
    messages in arrival order, ``Models.MAX_BATCH`` at a time, each run as ``Models.SUB_BATCH``
    sorted by length), or with ``app_batches=False`` the whole set sorted by length, batch 32
    (the model's best case, as bench/spam.py measures it)."""
    classifier = _classifier(folder)
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        if app_batches:
            for start in range(0, len(messages), MAX_BATCH_SIZE):
                batch = messages[start : start + MAX_BATCH_SIZE]
                classifier.predict(batch, batch_size=Models.SUB_BATCH)
        else:
            classifier.predict(messages, batch_size=32)
        best = max(best, len(messages) / (time.perf_counter() - started))
    return best


def json_latencies(url: str, texts: list[str], n: int) -> list[float]:
    """Seconds per request on the JSON route, one request at a time."""
    latencies = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for i in range(n + 1):  # the first request only opens the connection
            started = time.perf_counter()
            response = http.post(CLASSIFICATION_ROUTE, json={"inputs": texts[i % len(texts)]})
            response.raise_for_status()
            if i:
                latencies.append(time.perf_counter() - started)
    return latencies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(spam: Path, topics: Path, port: int) -> tuple[subprocess.Popen, float]:
    env = dict(
        os.environ,
        SPAM_MODEL=str(spam),
        TOPIC_MODEL=str(topics),
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
    )
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        if process.poll() is not None:
            raise SystemExit(f"app.py exited with code {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.05)


def startup_seconds(spam: Path, topics: Path) -> float:
    process, seconds = start_app(spam, topics, free_port())
    process.terminate()
    process.wait(timeout=30)
    return seconds


def without_onnx(folder: Path, into: Path) -> Path:
    """``into``: links to everything in the model ``folder`` except its ONNX export."""
    into.mkdir()
    for entry in folder.iterdir():
        if entry.name != "onnx":
            (into / entry.name).symlink_to(entry.resolve())
    return into


def import_floor() -> float:
    """Seconds for a bare Python to import the libraries the app cannot start without."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORT_FLOOR], check=True)
    return time.perf_counter() - started


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc: this benchmark needs Linux")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def client(url: str) -> Client:
    """A gradio_client Client sharing one SSL context: it builds an httpx client for every
    request, and with ``ssl_verify=True`` each one loads the CA bundle again (about 60 ms of
    CPU here, on the cores the app runs on). Verification is unchanged."""
    return Client(url, verbose=False, ssl_verify=SSL_CONTEXT)


def http_latencies(url: str, endpoint: str, texts: list[str], n: int) -> list[float]:
    """Seconds per request over Gradio's HTTP API, as curl or any HTTP client calls it."""
    latencies = []
    with httpx.Client(base_url=f"{url}gradio_api/call/", timeout=60) as http:
        for i in range(n + 1):  # the first request only opens the connection
            started = time.perf_counter()
            event = http.post(endpoint, json={"data": [texts[i % len(texts)]]}).json()
            with http.stream("GET", f"{endpoint}/{event['event_id']}") as stream:
                lines = list(stream.iter_lines())
            if "event: complete" not in lines:
                raise RuntimeError(f"{endpoint} failed: {lines}")
            if i:
                latencies.append(time.perf_counter() - started)
    return latencies


def client_latencies(url: str, endpoint: str, texts: list[str], n: int) -> list[float]:
    """Seconds per request with one ``gradio_client`` client."""
    one = client(url)
    one.predict(texts[0], api_name=endpoint)  # the first call sets up the client's stream
    latencies = []
    for i in range(n):
        started = time.perf_counter()
        one.predict(texts[i % len(texts)], api_name=endpoint)
        latencies.append(time.perf_counter() - started)
    return latencies


def milliseconds(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
    }


def gradio_call(one: Client) -> Callable[[str], str]:
    """``/classify`` through a gradio_client Client; returns the label."""
    return lambda text: one.predict(text, api_name="/classify")[0]["label"]


def json_call(url: str) -> Callable[[str], str]:
    """The JSON route through a client of its own (one per thread); returns the top label."""
    http = httpx.Client(base_url=url, timeout=60)
    return lambda text: http.post(CLASSIFICATION_ROUTE, json={"inputs": text}).json()[0][0]["label"]


def load_test(calls: list[Callable[[str], str]], messages: list[str], requests: int) -> dict:
    """One thread per call function, sharing ``requests`` classifications of ``messages``."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(requests))
    lock = threading.Lock()

    def work(call: Callable[[str], str]) -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            started = time.perf_counter()
            try:
                label = call(messages[i % len(messages)])
                if label not in {"ham", "spam"}:
                    raise ValueError(f"unexpected answer {label!r}")
            except Exception as err:  # a failed request is counted, not fatal
                with lock:
                    errors.append(f"{type(err).__name__}: {err}")
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=work, args=(call,)) for call in calls]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "clients": len(calls),
        "requests": requests,
        "failed": len(errors),
        "first_errors": errors[:3],
        "seconds": round(wall, 2),
        "requests_per_second": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
    }


def write_markdown(result: dict) -> str:
    load, single, checks = result["load"], result["single"], result["targets_met"]
    shared, json_load, cpu = result["load_shared_client"], result["load_json"], result["cpu"]
    mark = {True: "yes", False: "**no**"}
    lines = [
        "# App load benchmark",
        "",
        f"{result['machine']}; load average {result['load_average_start']} at start, "
        f"{result['load_average_end']} at the end (the machine is shared). Models: "
        f"`{result['spam_model']}`, `{result['topic_model']}`.",
        "",
        cpu_line(cpu),
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
        f"| start-up to ready (both models, ONNX Runtime), median of {STARTS} "
        f"| {result['startup_seconds']:.1f} s | < 10 s | {mark[checks['startup_seconds']]} |",
        f"| baseline, same run: the same models served with PyTorch (no `onnx/` folders) "
        f"| {result['startup_seconds_pytorch']:.1f} s | | |",
        f"| the floor: a bare `python -c '{IMPORT_FLOOR}'`, same run "
        f"| {result['import_floor_seconds']:.1f} s | | |",
        f"| peak RSS of the app | {result['peak_rss_mb']:,.0f} MB | < 1,536 MB "
        f"| {mark[checks['peak_rss_mb']]} |",
        f"| failed requests ({load['clients']} clients, {load['requests']:,} requests) "
        f"| {load['failed']} | 0 | {mark[checks['failed_requests']]} |",
        f"| failed requests, one Client shared by {shared['clients']} threads "
        f"({shared['requests']:,} requests) | {shared['failed']} | 0 | |",
        f"| failed requests, JSON route ({json_load['clients']} clients, "
        f"{json_load['requests']:,} requests) | {json_load['failed']} | 0 | |",
        f"| `/classify` requests/s through the app | {load['requests_per_second']:.1f} | | |",
        f"| model's own batched throughput (batch {MAX_BATCH_SIZE}), before / after "
        f"| {result['model_before']:.1f} / {result['model_after']:.1f} messages/s | | |",
        f"| ratio app / model | {result['throughput_ratio']:.2f} | ≥ 0.50 "
        f"| {mark[checks['throughput_ratio']]} |",
        f"| the model sorted by length over the whole set (batch 32) | "
        f"{result['model_sorted']:.1f} messages/s | | |",
        f"| the model as the app batches it / sorted | {result['app_batches_vs_sorted']:.2f} "
        f"| ≥ 0.80 | {mark[checks['app_batches_vs_sorted']]} |",
        f"| `/classify`, one shared Client: requests/s | {shared['requests_per_second']:.1f} | | |",
        f"| JSON route requests/s ({json_load['clients']} clients), ratio to the model "
        f"| {json_load['requests_per_second']:.1f} = {result['json_throughput_ratio']:.2f} "
        f"× model | ≥ 0.50 | {mark[checks['json_throughput_ratio']]} |",
        f"| latency under load p50 / p95 / p99 | {load['p50_ms']:,.0f} / {load['p95_ms']:,.0f} / "
        f"{load['p99_ms']:,.0f} ms | | |",
        f"| single `/classify` request, HTTP API, p50 / p95 | {single['http']['p50_ms']:.1f} / "
        f"{single['http']['p95_ms']:.1f} ms | p50 < 50 ms | {mark[checks['single_p50_ms']]} |",
        f"| single `/classify` request, gradio_client, p50 / p95 "
        f"| {single['client']['p50_ms']:.1f} / {single['client']['p95_ms']:.1f} ms | | |",
        f"| single `/topics` request, gradio_client, p50 | {single['topics']['p50_ms']:.1f} ms "
        "| | |",
        f"| single request, JSON route `/v1/text-classification`, p50 / p95 "
        f"| {single['json']['p50_ms']:.1f} / {single['json']['p95_ms']:.1f} ms | p50 < 20 ms "
        f"| {mark[checks['json_p50_ms']]} |",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spam-model", type=Path, default=ROOT / "models" / "spam")
    parser.add_argument("--topic-model", type=Path, default=ROOT / "models" / "topics")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2_000, help="requests under load")
    parser.add_argument(
        "--shared-requests", type=int, default=1_000, help="requests through one shared Client"
    )
    args = parser.parse_args()
    for folder in (args.spam_model, args.topic_model):
        if not (folder / "config.json").is_file():
            raise SystemExit(
                f"no model in {folder}: run `make models` or pass --spam-model / --topic-model"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    messages = sms_messages(2_000)
    port = free_port()
    floor = import_floor()
    starts: dict[str, list[float]] = {"onnx": [], "pytorch": []}
    with tempfile.TemporaryDirectory() as tmp:
        plain = [
            without_onnx(folder, Path(tmp) / name)
            for folder, name in ((args.spam_model, "spam"), (args.topic_model, "topics"))
        ]
        for _ in range(STARTS):
            starts["pytorch"].append(startup_seconds(*plain))
            starts["onnx"].append(startup_seconds(args.spam_model, args.topic_model))
    startup, baseline = statistics.median(starts["onnx"]), statistics.median(starts["pytorch"])
    process, _ = start_app(args.spam_model, args.topic_model, port)
    url = f"http://127.0.0.1:{port}/"
    try:
        single = {
            "http": milliseconds(http_latencies(url, "classify", messages, 200)),
            "client": milliseconds(client_latencies(url, "/classify", messages, 100)),
            "topics": milliseconds(client_latencies(url, "/topics", TOPIC_TEXTS, 30)),
            "json": milliseconds(json_latencies(url, messages, 200)),
        }
        model_before = model_throughput(args.spam_model, messages)
        model_sorted = model_throughput(args.spam_model, messages, app_batches=False)
        load = load_test(
            [gradio_call(client(url)) for _ in range(args.clients)], messages, args.requests
        )
        shared = gradio_call(client(url))
        load_shared = load_test([shared] * args.clients, messages, args.shared_requests)
        load_json = load_test(
            [json_call(url) for _ in range(args.clients)], messages, args.requests
        )
        model_after = model_throughput(args.spam_model, messages)
        peak = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    model_mean = (model_before + model_after) / 2
    result = {
        "machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)",
        "cpu": cpu_description(),
        "load_average_start": round(load_start, 2),
        "load_average_end": round(os.getloadavg()[0], 2),
        # Relative to the project: results are committed, and a local path is nobody's business.
        "spam_model": os.path.relpath(args.spam_model, ROOT),
        "topic_model": os.path.relpath(args.topic_model, ROOT),
        "startup_seconds": round(startup, 2),
        "startup_seconds_pytorch": round(baseline, 2),
        "startups": starts,
        "import_floor_seconds": round(floor, 2),
        "peak_rss_mb": round(peak, 1),
        "model_before": round(model_before, 1),
        "model_after": round(model_after, 1),
        "model_sorted": round(model_sorted, 1),
        "app_batches_vs_sorted": round(model_mean / model_sorted, 3),
        "single": single,
        "load": load,
        "load_shared_client": load_shared,
        "load_json": load_json,
        "throughput_ratio": round(load["requests_per_second"] / model_mean, 3),
        "json_throughput_ratio": round(load_json["requests_per_second"] / model_mean, 3),
    }
    result["targets_met"] = {
        "startup_seconds": result["startup_seconds"] < TARGETS["startup_seconds"],
        "peak_rss_mb": result["peak_rss_mb"] < TARGETS["peak_rss_mb"],
        "failed_requests": load["failed"] + load_shared["failed"] + load_json["failed"]
        == TARGETS["failed_requests"],
        "throughput_ratio": result["throughput_ratio"] >= TARGETS["throughput_ratio"],
        "single_p50_ms": single["http"]["p50_ms"] < TARGETS["single_p50_ms"],
        "json_p50_ms": single["json"]["p50_ms"] < TARGETS["json_p50_ms"],
        "app_batches_vs_sorted": result["app_batches_vs_sorted"] >= 0.8,
        "json_throughput_ratio": result["json_throughput_ratio"]
        >= TARGETS["json_throughput_ratio"],
    }
    (RESULTS / "app_load.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "app_load.md").write_text(write_markdown(result))
    print(write_markdown(result))


if __name__ == "__main__":
    main()
