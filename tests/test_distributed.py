"""Both training commands as one distributed run: 2 CPU processes under ``torchrun`` with
``ACCELERATE_USE_CPU=1`` (gloo), the way to run several processes on a machine without GPUs.

Quality is compared with the 1-process fixtures at the same global batch (2 processes x 8 =
16), not bit for bit: each process draws its own batches of each epoch, gradients are averaged
over two half batches (and batch norm, in the topic model, normalises each half on its own),
and gloo sums in another order, so the weights differ in their last digits and beyond.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate.data_loader import prepare_data_loader
from torch.utils.data import DataLoader

from hub_utils import load_classifier, load_topic_model
from tests.conftest import REPO_ROOT
from tests.fixtures_classify import HAM_EXAMPLE, SPAM_EXAMPLE, classify_args
from tests.fixtures_topics import FIXTURE_ARGS, TopicCorpus
from tests.tensorboard_events import steps_in_write_order
from train.__main__ import main
from train.classify import LengthGroupedBatches

TIMEOUT = 300
# Two processes with half the fixture's batch: the same 16 examples per optimiser step.
HALF_BATCH = ("--batch-size", "8")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun_command(args: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        "train",
        *args,
    ]


def _env(*, cpu_ranks: bool = True) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("ACCELERATE_USE_CPU", None)
    if cpu_ranks:
        env["ACCELERATE_USE_CPU"] = "1"  # MULTI_CPU: the ranks join one gloo process group
    return env


def torchrun(args: list[str], *, cpu_ranks: bool = True) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc_per_node 2 -m train ARGS``; fails the test with its output if it
    hangs."""
    return subprocess.run(
        _torchrun_command(args),
        cwd=REPO_ROOT,
        env=_env(cpu_ranks=cpu_ranks),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def _check_ran(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux)."""
    return [
        int(child)
        for children in Path(f"/proc/{pid}/task").glob("*/children")
        for child in children.read_text().split()
    ]


def _wait_gone(pid: int) -> None:
    """Wait until the killed, orphaned ``pid`` has ended (reaped, or a zombie), so that it
    writes nothing more."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            # The state follows the parenthesised command name: Z for a zombie.
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.05)


def _bars_started(stderr: str, desc: str) -> int:
    """How many tqdm bars ``desc`` were drawn: their first frame (later ones move on or show
    a postfix)."""
    return len(re.findall(rf"{re.escape(desc)}:\s+0%\|[^|]*\| 0/\d+ \[00:00<\?, \?it/s\]", stderr))


def _one_set_of_logs(output: Path, run_name: str) -> None:
    """One run folder with one event file: rank 1 writes no TensorBoard logs."""
    assert [p.name for p in (output / "runs").iterdir()] == [run_name]
    assert len(list((output / "runs" / run_name).glob("events.out.tfevents.*"))) == 1


def _no_leftovers(folder: Path, name: str) -> None:
    assert not (folder / f".{name}.work").exists()
    assert not list(folder.glob(f".{name}.tmp-*")) and not list(folder.glob(f".{name}.old-*"))


@pytest.mark.parametrize(("n", "batch_size", "processes"), [(94, 8, 2), (97, 16, 2), (95, 8, 3)])
def test_length_grouped_batches_are_dealt_evenly_once_each(
    n: int, batch_size: int, processes: int
) -> None:
    """What ``accelerator.prepare`` makes of the classifier's loader: every process gets as many
    batches, and every example comes exactly once an epoch, in the same order on all."""
    lengths = [(i * 37) % 50 + 1 for i in range(n)]
    batches = LengthGroupedBatches(lengths, batch_size, seed=3, num_processes=processes)
    # A list is a map-style dataset, which torch's type hints do not say.
    loader: DataLoader[int] = DataLoader(
        list(range(n)),  # type: ignore[arg-type]
        batch_sampler=batches,
        collate_fn=list,
    )
    shards = [
        prepare_data_loader(
            loader, num_processes=processes, process_index=rank, put_on_device=False
        )
        for rank in range(processes)
    ]
    for epoch in (0, 1):
        batches.set_epoch(epoch)  # what each process does with its own copy, same seed
        dealt = [list(shard) for shard in shards]
        assert {len(shard_batches) for shard_batches in dealt} == {len(batches) // processes}
        seen = sorted(i for shard_batches in dealt for batch in shard_batches for i in batch)
        assert seen == list(range(n))
        assert max(len(batch) for shard_batches in dealt for batch in shard_batches) <= batch_size
    # One process: the batches of the single-process sampler, unchanged.
    assert list(LengthGroupedBatches(lengths, batch_size, seed=3, num_processes=1)) == list(
        LengthGroupedBatches(lengths, batch_size, seed=3)
    )


def test_classify_on_two_processes(
    tmp_path: Path, spam_csv: Path, tiny_bert: Path, trained_classifier: Path
) -> None:
    output = tmp_path / "spam"
    result = torchrun(classify_args(spam_csv, tiny_bert, output, *HALF_BATCH))
    _check_ran(result)
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "README.md",
        "eval_results.json",
        "training_config.json",
        "onnx/model_quantized.onnx",
    ):
        assert (output / name).is_file(), name
    _no_leftovers(tmp_path, "spam")
    _one_set_of_logs(output, "test-run")
    assert _bars_started(result.stderr, "epoch 1/8") == 1  # the main process's bar only

    config = json.loads((output / "training_config.json").read_text())
    assert config["num_processes"] == 2 and config["distributed_type"] == "MULTI_CPU"
    assert config["effective_batch_size"] == 16
    # The processes trained on disjoint shards that together cover the training set once an
    # epoch (the sum over processes; an unsharded loader would count it twice).
    assert config["train_samples_seen"] == 8 * config["split_sizes"]["train"]
    results = json.loads((output / "eval_results.json").read_text())
    # 21 test examples, not a multiple of 2 processes x 32: each is counted exactly once.
    assert sum(map(sum, results["test_confusion_matrix"])) == config["split_sizes"]["test"] == 21
    card = (output / "README.md").read_text()
    assert "| num_processes | `2` |" in card and "| effective_batch_size | `16` |" in card
    assert "| distributed_type | `MULTI_CPU` |" in card

    # Quality: test accuracy and spam F1 of the best epoch against the 1-process fixture's,
    # with a margin for the differences the module docstring lists.
    single = json.loads((trained_classifier / "eval_results.json").read_text())["test"]
    assert results["test"]["accuracy"] >= single["accuracy"] - 0.1
    assert results["test"]["f1_spam"] >= single["f1_spam"] - 0.15
    predictions = load_classifier(output).predict([SPAM_EXAMPLE, HAM_EXAMPLE])
    assert [p.label for p in predictions] == ["spam", "ham"]


def test_topics_on_two_processes(
    tmp_path: Path, topic_corpus: TopicCorpus, trained_topic_model: Path
) -> None:
    output, cache = tmp_path / "topics", tmp_path / "cache"
    args = [
        "topics",
        "--dataset",
        str(topic_corpus.corpus_file),
        "--labels-file",
        str(topic_corpus.labels_file),
        "--output-dir",
        str(output),
        "--cache-dir",
        str(cache),
        *FIXTURE_ARGS,
        *HALF_BATCH,
    ]
    result = torchrun(args)
    _check_ran(result)
    for name in (
        "config.json",
        "model.safetensors",
        "vocab.json",
        "topics.json",
        "README.md",
        "eval_results.json",
        "training_config.json",
        "topic_map.json",
        "onnx/topic_model.onnx",
    ):
        assert (output / name).is_file(), name
    _no_leftovers(tmp_path, "topics")
    _one_set_of_logs(output, "fixture-run")
    # The main process's bars only: the embeddings' and the epochs'.
    assert _bars_started(result.stderr, "Batches") == _bars_started(result.stderr, "epochs") == 1

    # The corpus was encoded in two shares, gathered in order: the cache holds what one process
    # computes (to float noise: the shares are batched differently).
    [cached] = cache.glob("*.npy")
    [single_cached] = (trained_topic_model.parent / ".cache" / "embeddings").glob("*.npy")
    assert cached.name == single_cached.name
    np.testing.assert_allclose(np.load(cached), np.load(single_cached), atol=1e-5)

    training = json.loads((output / "training_config.json").read_text())
    assert training["num_processes"] == 2 and training["distributed_type"] == "MULTI_CPU"
    assert training["effective_batch_size"] == 16
    assert training["epochs_run"] == len(training["history"]) == 30
    card = (output / "README.md").read_text()
    assert "| num_processes | `2` |" in card and "| effective_batch_size | `16` |" in card

    # Quality: the bounds the 1-process fixture meets (tests/test_topics_training.py), as the
    # five themes must still be found; NPMI is left out, as on 30 tiny epochs it swings with
    # the batch order (one process, seed 42: 0.2 to 0.3).
    results = json.loads((output / "eval_results.json").read_text())
    assert results["purity"] > 0.6 and results["nmi"] > 0.4
    assert results["round_trip_max_abs_diff"] <= 1e-5 and results["onnx_max_abs_diff"] <= 1e-4
    assert load_topic_model(output).predict(["football match goal team"]).shape == (1, 5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the trap needs a machine without GPUs")
def test_processes_that_form_no_distributed_run_are_refused(
    tmp_path: Path, spam_csv: Path, tiny_bert: Path
) -> None:
    """Without ACCELERATE_USE_CPU, torchrun's 2 processes on a GPU-less machine each see
    DistributedType.NO: both must stop before writing anything, not train twice."""
    output = tmp_path / "spam"
    result = torchrun(classify_args(spam_csv, tiny_bert, output), cpu_ranks=False)
    assert result.returncode != 0
    assert "exitcode  : 2" in result.stderr  # each process exits 2; torchrun itself exits 1
    assert "Accelerate sees no distributed run" in result.stderr
    assert "ACCELERATE_USE_CPU=1" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_resume_on_two_processes(
    tmp_path: Path, spam_csv: Path, tiny_bert: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output, work = tmp_path / "spam", tmp_path / ".spam.work"
    args = classify_args(spam_csv, tiny_bert, output, *HALF_BATCH, "--epochs", "12", "--no-onnx")
    process = subprocess.Popen(
        _torchrun_command(args),
        cwd=REPO_ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            state_file = work / "state.json"
            if state_file.is_file() and json.loads(state_file.read_text())["epoch"] >= 2:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be interrupted"
        ranks = _children(process.pid)  # torchrun starts each in a session of its own
        assert len(ranks) == 2
        for pid in [*ranks, process.pid]:  # a crash of every process: no cleanup runs
            os.kill(pid, signal.SIGKILL)
        process.wait()
        for pid in ranks:
            _wait_gone(pid)
    finally:
        process.kill()
        process.wait()
    killed_at = json.loads((work / "state.json").read_text())["epoch"]
    assert not output.exists()

    # The batches and the learning-rate schedule depend on the process count: one is refused.
    assert main([*args, "--resume"]) == 2
    assert "the number of processes (the run had 2, this has 1)" in capsys.readouterr().err

    result = torchrun([*args, "--resume"])
    _check_ran(result)
    assert f"resumed after epoch {killed_at}" in result.stdout
    assert (output / "model.safetensors").is_file()
    _no_leftovers(tmp_path, "spam")
    # 94 examples in batches of 8: 12 batches, 6 optimiser steps an epoch on each process.
    epochs_logged = steps_in_write_order(output / "runs" / "test-run", "validation/accuracy")
    assert len(epochs_logged) >= 12 and epochs_logged[-1] == 12 * 6
    config = json.loads((output / "training_config.json").read_text())
    assert config["num_processes"] == 2
    # Epochs already done were not trained again: the count covers each epoch once.
    assert config["train_samples_seen"] == 12 * config["split_sizes"]["train"]
