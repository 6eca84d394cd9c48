"""The Accelerate loop that trains the package's ``DecoderNetwork`` with the package's loss.

It does what ``CTM.fit`` does (Adam with momentum 0.99, loss summed over the batch, last
incomplete batch dropped, early stopping on the validation loss) and adds what ``fit`` lacks:
the best epoch's whole network kept (not only its topic-word weights), no early stopping before
``min_epochs``, per-epoch losses logged to the Accelerate trackers, and a checkpoint after every
epoch (safetensors, no pickle) from which an interrupted run resumes.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from accelerate import Accelerator
from contextualized_topic_models.models.ctm import CTM
from safetensors.torch import load_file, save_file
from scipy import sparse
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from hub_utils.models.topic_model import TopicModel, torch_threads

CHECKPOINT_FILE = "checkpoint.safetensors"


@dataclass
class TrainingSettings:
    epochs: int
    batch_size: int
    lr: float
    patience: int  # epochs without a better validation loss before stopping
    min_epochs: int  # epochs before early stopping may choose or stop (see train_network)
    cpu_threads: int  # PyTorch intra-op threads while training on CPU


@dataclass
class TrainingState:
    """Progress saved with every checkpoint."""

    epoch: int = 0  # epochs completed
    best_epoch: int = 0
    best_val_loss: float | None = None
    bad_epochs: int = 0
    stopped_early: bool = False
    train_seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


class Documents(Dataset):
    """Bag-of-words rows and sentence embeddings; a batch is sliced in one go (sparse rows are
    slow to densify one at a time)."""

    def __init__(self, counts: sparse.csr_matrix, embeddings: np.ndarray) -> None:
        self.counts = sparse.csr_matrix(counts, dtype=np.float32)
        self.embeddings = np.asarray(embeddings, dtype=np.float32)

    def __len__(self) -> int:
        return self.counts.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        bows = torch.from_numpy(self.counts[indices].toarray())
        embeddings = torch.from_numpy(self.embeddings[indices])
        return list(zip(bows, embeddings, strict=True))


def ctm_loss(bow: torch.Tensor, outputs: tuple, n_topics: int) -> torch.Tensor:
    """Per-document loss of the package: KL(posterior || prior) plus the words' negative
    log-likelihood, from ``CTM._loss`` itself."""
    prior_mean, prior_var, post_mean, post_var, post_log_var, word_dists, _ = outputs
    # CTM._loss reads only n_components from its instance, so no CTM object is built.
    kl, reconstruction = CTM._loss(
        SimpleNamespace(n_components=n_topics), bow, word_dists.float(), prior_mean, prior_var,
        post_mean.float(), post_var.float(), post_log_var.float(),
    )
    return kl + reconstruction


def train_network(
    model: TopicModel,
    train_data: Documents,
    val_data: Documents,
    settings: TrainingSettings,
    accelerator: Accelerator,
    checkpoint_dir: Path,
) -> TrainingState:
    """Train ``model.network`` in place and leave it at the epoch with the best validation loss
    from ``min_epochs`` on.

    An untrained ProdLDA predicts nearly uniform word distributions, whose loss on short held-out
    documents is deceptively low: the validation loss jumps after the first epoch, then falls for
    many epochs while the topics get better. So the first epochs are neither kept nor counted
    towards patience. Resumes from ``checkpoint_dir`` when it holds a checkpoint of this run.
    """
    network = model.network
    # The package's optimiser: Adam whose first beta is its "momentum" (0.99).
    optimizer = torch.optim.Adam(network.parameters(), lr=settings.lr, betas=(0.99, 0.99))
    # Batch norm cannot train on one document, so the last incomplete batch is dropped.
    train_loader = DataLoader(train_data, batch_size=min(settings.batch_size, len(train_data)),
                              shuffle=True, drop_last=True)
    val_loader = DataLoader(val_data, batch_size=settings.batch_size)

    state, best = TrainingState(), None
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = checkpoint_dir / CHECKPOINT_FILE
    if checkpoint.is_file():
        state, best, optimizer_state = _load_checkpoint(checkpoint, model)
    network, optimizer, train_loader, val_loader = accelerator.prepare(
        network, optimizer, train_loader, val_loader
    )
    if state.epoch:
        optimizer.load_state_dict(
            {"state": optimizer_state, "param_groups": optimizer.state_dict()["param_groups"]}
        )
        accelerator.print(f"resumed after epoch {state.epoch}")
    first_candidate = min(settings.min_epochs, settings.epochs)
    progress = tqdm(range(state.epoch, settings.epochs), desc="epochs", initial=state.epoch,
                    total=settings.epochs, disable=not accelerator.is_local_main_process)
    # The network is small: on CPU extra threads cost more in synchronisation than they save,
    # and on a busy machine 2 threads measured 4x slower than 1.
    threads = settings.cpu_threads if accelerator.device.type == "cpu" else torch.get_num_threads()
    with torch_threads(threads):
        for epoch in progress:
            if state.stopped_early:  # resumed after the run had already stopped
                break
            started = time.perf_counter()
            train_loss = _train_epoch(network, train_loader, optimizer, accelerator,
                                      model.n_topics)
            val_loss = validation_loss(network, val_loader, accelerator, model.n_topics)
            state.train_seconds += time.perf_counter() - started
            state.epoch = epoch + 1
            state.history.append(
                {"epoch": state.epoch, "train_loss": train_loss, "val_loss": val_loss})
            accelerator.log({"train/loss": train_loss, "validation/loss": val_loss},
                            step=state.epoch)
            progress.set_postfix(train=f"{train_loss:.2f}", val=f"{val_loss:.2f}")

            if state.epoch >= first_candidate:
                if state.best_val_loss is None or val_loss < state.best_val_loss:
                    state.best_val_loss, state.best_epoch, state.bad_epochs = (
                        val_loss, state.epoch, 0)
                    best = model.network_state()
                else:
                    state.bad_epochs += 1
                    state.stopped_early = state.bad_epochs >= settings.patience
            if accelerator.is_main_process:
                _save_checkpoint(checkpoint, model, best, optimizer, state)
            if state.stopped_early:
                accelerator.print(f"early stop: no lower validation loss for "
                                  f"{settings.patience} epochs; keeping epoch {state.best_epoch}")
                break
    if best is not None:
        model.load_network_state(best)
    return state


def _train_epoch(network: torch.nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                 accelerator: Accelerator, n_topics: int) -> float:
    """One pass over the training set; the mean loss per document."""
    network.train()
    total = torch.zeros(2, device=accelerator.device)  # loss sum, documents
    for bow, embeddings in loader:
        optimizer.zero_grad()
        loss = ctm_loss(bow, network(bow, embeddings), n_topics).sum()
        accelerator.backward(loss)
        optimizer.step()
        total += torch.stack([loss.detach(), loss.new_tensor(float(len(bow)))])
    loss_sum, documents = accelerator.reduce(total, reduction="sum").tolist()
    return loss_sum / documents




def validation_loss(network: torch.nn.Module, loader: DataLoader, accelerator: Accelerator,
                    n_topics: int) -> float:
    """Mean loss per document over the whole validation set (gathered across processes)."""
    network.eval()
    losses = []
    with torch.no_grad():
        for bow, embeddings in loader:
            loss = ctm_loss(bow, network(bow, embeddings), n_topics)
            losses.append(accelerator.gather_for_metrics(loss))
    return torch.cat(losses).mean().item()


def _save_checkpoint(path: Path, model: TopicModel, best: dict[str, torch.Tensor] | None,
                     optimizer: torch.optim.Optimizer, state: TrainingState) -> None:
    tensors = {f"network.{k}": v for k, v in model.network_state().items()}
    if best is not None:
        tensors.update({f"best.{k}": v for k, v in best.items()})
    for param_id, slots in optimizer.state_dict()["state"].items():
        for name, value in slots.items():
            tensors[f"optimizer.{param_id}.{name}"] = torch.as_tensor(value).detach().cpu().clone()
    tensors["rng.torch"] = torch.get_rng_state()
    # One file holds tensors and progress, so a crash leaves the old checkpoint or the new one.
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    save_file(tensors, str(tmp), metadata={"state": json.dumps(asdict(state))})
    os.replace(tmp, path)


def _load_checkpoint(path: Path, model: TopicModel
                     ) -> tuple[TrainingState, dict[str, torch.Tensor] | None, dict]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        state = TrainingState(**json.loads(handle.metadata()["state"]))
    tensors = load_file(str(path))
    groups: dict[str, dict] = {"network": {}, "best": {}, "optimizer": {}}
    for key, value in tensors.items():
        kind, _, name = key.partition(".")
        if kind == "rng":
            torch.set_rng_state(value)
        else:
            groups[kind][name] = value
    model.load_network_state(groups["network"])
    optimizer_state: dict[int, dict] = {}
    for key, value in groups["optimizer"].items():
        param_id, _, slot = key.partition(".")
        optimizer_state.setdefault(int(param_id), {})[slot] = value
    return state, groups["best"] or None, optimizer_state
