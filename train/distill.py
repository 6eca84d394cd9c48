"""Knowledge distillation for ``train classify --distill-from TEACHER``: a smaller student
(fewer layers) learns from a trained classifier's temperature-softened probabilities as well
as from the labels.

The student is ``--base-model`` cut to ``--num-layers`` (default: a third of the teacher's
layers), then given the teacher's own weights where the shapes agree: its embeddings, the
chosen layers (``--student-layers``) and its classifier head, so training starts from a model
that already does the task. The teacher's logits are computed once, up front, and travel with
each training example (packed into its ``labels``), so whichever process gets an example in a
multi-process run has them, with no gather.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from hub_utils.models.metadata import is_hub_id, public_model_id
from hub_utils.models.texts import TEXT_COLUMNS
from train.classify_data import LabelledTexts
from train.classify_metrics import classification_metrics
from train.errors import UserError
from train.tables import pick_column, read_table

# The hard label of an --unlabelled text: CrossEntropyLoss ignores it, the soft loss does not.
NO_LABEL = -100
_LAYER = re.compile(r"(.*\bencoder\.layer\.)(\d+)(\..*)")


def add_distill_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("distillation")
    group.add_argument(
        "--distill-from",
        metavar="TEACHER",
        help="train a smaller student from this classifier (folder or Hub id, same labels): "
        "the student is --base-model cut to --num-layers (default: a third of the teacher's "
        "layers) and starts from the teacher's weights",
    )
    group.add_argument(
        "--temperature",
        type=float,
        default=2.0,
        help="softens both models' probabilities in the distillation loss",
    )
    group.add_argument(
        "--alpha",
        type=float,
        default=0.5,
        help="weight of the soft (teacher) loss; 1 - alpha weighs the labels' cross-entropy",
    )
    group.add_argument(
        "--student-layers",
        choices=["first", "spaced"],
        default="spaced",
        help="which teacher layers the student starts from: N evenly spaced from the first to "
        "the last (as DistilBERT; on SMS spam, seed 42, 3 test messages better than the first "
        "N for a 2-layer student), or its first N",
    )
    group.add_argument(
        "--unlabelled",
        metavar="FILE",
        help="extra texts for the teacher to label (soft loss only): a .txt file, one text a "
        "line, or a table with a text column (--text-column or a guessed name)",
    )


def check_distill_flags(args: argparse.Namespace) -> None:
    """Refuse bad distillation flags before any work; set the student's default depth."""
    if not args.distill_from:
        if args.unlabelled:
            raise UserError("--unlabelled needs --distill-from: a teacher labels those texts")
        return
    if not args.temperature > 0:
        raise UserError("--temperature must be above 0")
    if not 0 <= args.alpha <= 1:
        raise UserError("--alpha must be between 0 and 1")
    try:
        config = AutoConfig.from_pretrained(args.distill_from)
    except (OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"cannot load --distill-from {args.distill_from!r}: {reason}") from err
    layers = config.num_hidden_layers
    if args.num_layers is None:
        # A third of the encoder compute: the 6-layer default teaches a 2-layer student.
        args.num_layers = max(1, layers // 3)
    elif args.num_layers > layers:
        raise UserError(
            f"--num-layers {args.num_layers}: the student cannot have more layers than the "
            f"teacher's {layers}"
        )
    if args.unlabelled and not Path(args.unlabelled).expanduser().is_file():
        raise UserError(f"--unlabelled file not found: {args.unlabelled}")


def teacher_hub_id(source: str) -> str | None:
    """The teacher's Hub id: as given, or from a Hub cache folder; None for any other folder
    (its config names the encoder it was trained from, not the teacher itself)."""
    path = Path(source).expanduser()
    if not path.is_dir():
        return source if is_hub_id(source) else None
    return public_model_id(source) if path.resolve().parent.name == "snapshots" else None


def read_unlabelled(path: str, text_column: str | None) -> list[str]:
    """Non-blank texts of a .txt file (one a line) or of a table's text column."""
    file = Path(path).expanduser()
    if file.suffix.lower() == ".txt":
        lines = file.read_text(encoding="utf-8").splitlines()
        texts = [line.strip() for line in lines]
    else:
        table = read_table(file)
        column = pick_column(table, text_column, TEXT_COLUMNS, "text", file.name)
        texts = [str(t).strip() for t in table[column].dropna()]
    texts = [text for text in texts if text]
    if not texts:
        raise UserError(f"--unlabelled {file.name}: no texts")
    return texts


@dataclass
class Distiller:
    """The teacher and what distillation records about it."""

    args: argparse.Namespace
    teacher: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        args: argparse.Namespace,
        label_names: list[str],
        student: PreTrainedModel,
        device: torch.device,
    ) -> Distiller:
        """Load the teacher, refuse other labels, and initialise ``student`` from it."""
        teacher = AutoModelForSequenceClassification.from_pretrained(args.distill_from)
        config = teacher.config
        names = [config.id2label[i] for i in range(config.num_labels)]
        if names != label_names:
            raise UserError(
                f"--distill-from: the teacher's labels {names} differ from the data's "
                f"{label_names}; the teacher must be a classifier of the same labels, in order"
            )
        distiller = cls(
            args,
            teacher.eval().to(device),
            AutoTokenizer.from_pretrained(args.distill_from),
            device,
        )
        distiller.info = {
            "teacher": teacher_hub_id(args.distill_from),
            "temperature": args.temperature,
            "alpha": args.alpha,
            "student_init": distiller._initialise(student),
        }
        return distiller

    def _initialise(self, student: PreTrainedModel) -> str:
        """Copy the teacher's weights into ``student`` where every shape agrees; describe it."""
        n_teacher = self.teacher.config.num_hidden_layers
        n = student.config.num_hidden_layers
        if self.args.student_layers == "first" or n == 1:
            chosen = list(range(n))
        else:  # evenly spaced, first and last included
            chosen = [round(i * (n_teacher - 1) / (n - 1)) for i in range(n)]
        source = self.teacher.state_dict()
        weights = {}
        for key, value in student.state_dict().items():
            match = _LAYER.fullmatch(key)
            name = f"{match[1]}{chosen[int(match[2])]}{match[3]}" if match else key
            if name not in source or source[name].shape != value.shape:
                # Another architecture: the student keeps --base-model's weights.
                return f"--base-model's first {n} layers (the teacher's shapes differ)"
            weights[key] = source[name]
        student.load_state_dict(weights)
        return f"the teacher's embeddings, layers {chosen} (of 0-{n_teacher - 1}) and head"

    def training_features(
        self,
        features: list[dict],
        train: LabelledTexts,
        excluded: list[str],
        tokenizer: PreTrainedTokenizerBase,
        max_length: int,
    ) -> list[dict]:
        """``features`` (the training split's, in order) plus the --unlabelled texts (except
        any in ``excluded``, the validation and test texts), each with ``labels`` =
        [hard label or NO_LABEL, *teacher logits]."""
        texts, labels = list(train.texts), list(train.labels)
        extra: list[str] = []
        if self.args.unlabelled:
            held_out = set(excluded)
            unlabelled = read_unlabelled(self.args.unlabelled, self.args.text_column)
            extra = [text for text in unlabelled if text not in held_out]
            self.info["unlabelled_dropped_as_held_out"] = len(unlabelled) - len(extra)
            encoded = tokenizer(extra, truncation=True, max_length=max_length)
            features = features + [
                {"input_ids": ids, "attention_mask": mask}
                for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"], strict=True)
            ]
        self.info["unlabelled_texts"] = len(extra)
        started = time.perf_counter()
        logits = self.logits(texts + extra, max_length)
        self.info["teacher_labelling_seconds"] = round(time.perf_counter() - started, 2)
        return [
            {**feature, "labels": [float(label), *row]}
            for feature, label, row in zip(
                features, labels + [NO_LABEL] * len(extra), logits.tolist(), strict=True
            )
        ]

    @torch.inference_mode()
    def logits(self, texts: list[str], max_length: int, batch_size: int = 64) -> torch.Tensor:
        """The teacher's logits for ``texts`` (in their order), in batches sorted by length."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        num_labels = self.teacher.config.num_labels
        assert num_labels is not None  # a classifier's config always has it
        out = torch.empty(len(texts), num_labels)
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in index],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            ).to(self.device)
            out[index] = self.teacher(**batch).logits.float().cpu()
        return out

    def loss(self, class_weights: torch.Tensor | None) -> DistillationLoss:
        return DistillationLoss(self.args.temperature, self.args.alpha, class_weights)

    def record(self, test: LabelledTexts, max_length: int, results: dict, run_info: dict) -> None:
        """The teacher's scores on this run's test split and the distillation settings, into
        eval_results.json (``results``) and training_config.json (``run_info``)."""
        logits = self.logits(test.texts, max_length)
        labels = torch.tensor(test.labels)
        predictions = logits.argmax(-1).tolist()
        results["distillation"] = {
            **self.info,
            "teacher_test": {
                "loss": torch.nn.functional.cross_entropy(logits, labels).item(),
                **classification_metrics(predictions, test.labels, test.label_names),
            },
        }
        run_info["distillation"] = dict(self.info)


class DistillationLoss(torch.nn.Module):
    """alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
    + (1 - alpha) * cross-entropy(student, label), averaged over the batch.

    ``target`` packs each example's hard label (NO_LABEL for an unlabelled text, which then
    has the soft term only) and the teacher's logits. T^2 keeps the soft term's gradients on
    the scale of the hard one's as T grows (Hinton et al., 2015).
    """

    def __init__(
        self, temperature: float, alpha: float, class_weights: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.temperature, self.alpha = temperature, alpha
        self.class_weights = class_weights

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        hard, teacher = target[:, 0].long(), target[:, 1:].float()
        t = self.temperature
        soft = torch.nn.functional.kl_div(
            torch.log_softmax(logits / t, dim=-1),
            torch.log_softmax(teacher / t, dim=-1),
            log_target=True,
            reduction="batchmean",
        )
        # Summed over the labelled examples and divided by the whole batch: a batch of
        # unlabelled texts alone adds nothing here (a mean over none would be NaN).
        ce = torch.nn.functional.cross_entropy(
            logits, hard, weight=self.class_weights, ignore_index=NO_LABEL, reduction="sum"
        )
        return self.alpha * t * t * soft + (1 - self.alpha) * ce / len(logits)
