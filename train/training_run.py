"""What ``train classify`` and ``train topics`` share about a run: its flags (--run-name,
--resume, --push-to-hub), its work folder and epoch checkpoints, and its end.

A run works in ``.NAME.work`` beside its output folder ``NAME``: ``state.json`` (the flags, the
run name, the epochs done and the command's own progress), ``checkpoint-EPOCH/`` (what
``accelerator.prepare`` returned, saved by ``accelerator.save_state``), ``best/`` (the best
epoch's model) and ``runs/`` (TensorBoard logs). A crash keeps the folder for ``--resume``; a
finished run removes it once its output folder is written.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from accelerate import Accelerator, PartialState

from hub_utils.models.json_files import read_json, write_json
from hub_utils.models.metadata import (
    DEFAULT_LANGUAGE,
    DEFAULT_LICENSE,
    HUB_LICENSES,
    public_model_id,
    public_source,
)
from train.errors import UserError

STATE_FILE = "state.json"
LOGS_FOLDER = "runs"
# The run's own flags, which never change what is trained; --run-name has a rule of its own.
_RUN_FLAGS = {"resume", "push_to_hub", "run_name"}
# What published files (training_config.json, TensorBoard hparams) may say about the flags: a
# local path can hold a user name or a private project, so files go by name only, this
# machine's folders not at all, and models by Hub id (None when unknown). Hub ids stay as they are.
_SOURCE_FLAGS = ("dataset", "bow_dataset", "labels_file", "unlabelled")
_MACHINE_FLAGS = ("output_dir", "cache_dir")
_MODEL_FLAGS = ("base_model", "encoder", "distill_from")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


def add_run_flags(
    group: argparse._ArgumentGroup, resumable: Collection[str], resume_note: str
) -> None:
    """--run-name, --resume and --push-to-hub; the --resume help names the flags that may
    change (``resumable``, as ``TrainingRun.start`` gets them) and why (``resume_note``)."""
    may_change = ", ".join(_flag(name) for name in (*sorted(resumable), "push_to_hub"))
    group.add_argument("--run-name", help="TensorBoard run name (default: date and time)")
    group.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its last epoch checkpoint. Only "
        f"{may_change} may change; --run-name may be left out (the run "
        f"keeps its name) but not changed. {resume_note}",
    )
    group.add_argument(
        "--push-to-hub",
        metavar="REPO_ID",
        help="after a successful run, upload the folder to this Hub repo",
    )


def add_card_flags(group: argparse._ArgumentGroup) -> None:
    """--license and --language, for the model card; checked by ``check_card_flags``."""
    group.add_argument(
        "--license",
        default=DEFAULT_LICENSE,
        help="the model's license on the Hub (a Hub license id, e.g. mit, cc-by-4.0)",
    )
    group.add_argument(
        "--language",
        default=DEFAULT_LANGUAGE,
        help="language code of the texts (ISO 639-1, e.g. en, fr); the default encoder is English",
    )


def check_card_flags(args: argparse.Namespace) -> None:
    """Refuse a license or language the Hub would not accept, before any work."""
    if args.license not in HUB_LICENSES:
        raise UserError(
            f"--license {args.license!r} is not a Hub license id "
            "(see https://huggingface.co/docs/hub/repositories-licenses), e.g. apache-2.0, mit"
        )
    if not _LANGUAGE.fullmatch(args.language):
        raise UserError(f"--language {args.language!r} is not a language code such as en or fr")


def public_flags(flags: dict[str, Any]) -> dict[str, Any]:
    """``flags`` as published files record them: no local path (see ``_SOURCE_FLAGS``)."""
    public = {key: value for key, value in flags.items() if key not in _MACHINE_FLAGS}
    for key in _SOURCE_FLAGS:
        if key in public:
            public[key] = public_source(public[key])
    for key in _MODEL_FLAGS:
        if key in public:
            public[key] = public_model_id(public[key])
    return public


def add_mixed_precision_flag(group: argparse._ArgumentGroup) -> None:
    """--mixed-precision, checked by ``check_mixed_precision``."""
    group.add_argument(
        "--mixed-precision",
        choices=["no", "fp16", "bf16"],
        default="no",
        help="mixed precision (fp16 needs a GPU)",
    )


def check_mixed_precision(args: argparse.Namespace) -> None:
    """Refuse fp16 without a GPU, before any work (Accelerate would fail later, less clearly)."""
    import torch

    if args.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise UserError("--mixed-precision fp16 needs a CUDA GPU; use bf16 or no on this machine")


def require_at_least_one(args: argparse.Namespace, names: tuple[str, ...]) -> None:
    """Refuse integer flags below 1, naming the flag."""
    for name in names:
        if getattr(args, name) < 1:
            raise UserError(f"{_flag(name)} must be at least 1")


# What launchers set in every process they start: torchrun and ``accelerate launch`` (WORLD_SIZE,
# LOCAL_WORLD_SIZE), mpirun (Open MPI, MPICH / Intel MPI, MVAPICH).
_LAUNCHED_PROCESSES = (
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
    "MV2_COMM_WORLD_SIZE",
)


def check_one_run(accelerator: Accelerator) -> None:
    """Refuse processes launched together that do not form one distributed run.

    Call it right after the ``Accelerator`` exists. On a machine without GPUs, ``torchrun`` or
    ``accelerate launch --multi_gpu`` start N processes that each see ``DistributedType.NO``:
    each would train the whole model alone and write the same folders.
    """
    launched = max(_env_int(name) for name in _LAUNCHED_PROCESSES)
    if launched > 1 and accelerator.num_processes == 1:
        raise UserError(
            f"{launched} processes were launched (WORLD_SIZE={os.environ.get('WORLD_SIZE')}) but "
            f"Accelerate sees no distributed run ({accelerator.distributed_type}), so each would "
            "train alone into the same folder: on CPUs set ACCELERATE_USE_CPU=1 (torchrun, "
            "gloo), or launch on GPUs (accelerate launch --multi_gpu); see README"
        )


def _env_int(name: str) -> int:
    try:
        return int(os.environ.get(name, "1"))
    except ValueError:
        return 1


def distribution(accelerator: Accelerator, batch_size: int, grad_accum: int = 1) -> dict[str, Any]:
    """How the run was spread, as training_config.json and the cards record it: each optimiser
    step averages ``batch_size`` x processes x ``grad_accum`` examples."""
    return {
        "num_processes": accelerator.num_processes,
        "distributed_type": accelerator.distributed_type.value,
        "effective_batch_size": batch_size * accelerator.num_processes * grad_accum,
    }


def push_if_asked(output_dir: Path, args: argparse.Namespace) -> None:
    """Upload a finished output folder when --push-to-hub was given (by the main process only:
    the others return once it has written the folder)."""
    if args.push_to_hub and PartialState().is_main_process:
        from hub_utils.hub import push

        print(f"pushed: {push(output_dir, args.push_to_hub)}")


def work_dir_for(output_dir: Path) -> Path:
    """The run's work folder: beside the output, so that a crash keeps it for --resume."""
    return output_dir.parent / f".{output_dir.name}.work"


def logs_dir_for(output_dir: Path) -> Path:
    """The ``Accelerator``'s ``project_dir``: TensorBoard writes the run's logs there."""
    return work_dir_for(output_dir) / LOGS_FOLDER


class TrainingRun:
    """One run's state, checkpoints and work folder, shared by every process.

    Use it as a context manager: a run that fails before its first checkpoint leaves no work
    folder behind (there is nothing to resume), so the next attempt needs no --resume.
    """

    def __init__(self, accelerator: Accelerator, work_dir: Path, state: dict[str, Any]) -> None:
        self.accelerator, self.work_dir, self.state = accelerator, work_dir, state

    @classmethod
    def start(
        cls,
        accelerator: Accelerator,
        args: argparse.Namespace,
        output_dir: Path,
        *,
        add_arguments: Callable[[argparse.ArgumentParser], None],
        resumable: Collection[str],
        progress: dict[str, Any],
        data_sha256: str | None = None,
    ) -> TrainingRun:
        """Start a run, or resume the interrupted one with ``--resume``; call it once the
        ``Accelerator`` exists, on every process.

        ``add_arguments`` declares the command's flags (their defaults stand in for flags that a
        saved run predates), ``resumable`` the training flags that may change on --resume,
        ``progress`` the command's fresh progress and ``data_sha256`` the data's digest, when
        the command checks that a resumed run trains on the same data.
        """
        work_dir = work_dir_for(output_dir)
        flags = {key: value for key, value in vars(args).items() if key != "run"}
        # Every process checks and reaches the same verdict, so none is left waiting below.
        processes = accelerator.num_processes
        saved = _check_start(work_dir, flags, add_arguments, resumable, data_sha256, processes)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            if saved is None:
                work_dir.mkdir(parents=True)
                state = {
                    "args": flags,
                    "data_sha256": data_sha256,
                    "num_processes": processes,
                    "epoch": 0,
                    "run_name": args.run_name or datetime.now().strftime("%Y%m%d-%H%M%S"),
                    "progress": progress,
                }
            else:
                # An omitted --run-name continues the saved one, as recorded.
                state = {**saved, "args": {**flags, "run_name": saved["args"].get("run_name")}}
            _write_state(work_dir, state)
        accelerator.wait_for_everyone()
        return cls(accelerator, work_dir, read_json(work_dir / STATE_FILE))

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None and self.epoch == 0 and self.accelerator.is_main_process:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    @property
    def name(self) -> str:
        return self.state["run_name"]

    @property
    def epoch(self) -> int:
        """Epochs completed and checkpointed."""
        return self.state["epoch"]

    @property
    def args(self) -> dict[str, Any]:
        """The run's flags, as training_config.json records them."""
        return self.state["args"]

    @property
    def progress(self) -> dict[str, Any]:
        """The command's own progress (best epoch, step count, ...), saved with each epoch."""
        return self.state["progress"]

    @property
    def public_args(self) -> dict[str, Any]:
        """The run's flags without local paths, as published files record them."""
        return public_flags(self.args)

    @property
    def hparams(self) -> dict[str, int | float | str | bool]:
        """The flags that ``accelerator.init_trackers`` can log as hyperparameters (published
        with the logs, so without local paths)."""
        return {
            key: value
            for key, value in self.public_args.items()
            if isinstance(value, int | float | str | bool)
        }

    @property
    def best_dir(self) -> Path:
        """Where the command keeps its best epoch's model."""
        return self.work_dir / "best"

    @property
    def logs_dir(self) -> Path:
        return self.work_dir / LOGS_FOLDER

    def restore(self) -> None:
        """After ``accelerator.prepare``: load the last checkpoint when resuming."""
        if self.epoch:
            self.accelerator.load_state(str(self._checkpoint(self.epoch)))
            self.accelerator.print(f"resumed after epoch {self.epoch}")

    def save_epoch(self, epoch: int) -> None:
        """Checkpoint every prepared object, then record ``epoch`` and the progress. The state
        names its checkpoint, so a crash at any point leaves a matching pair."""
        self.accelerator.save_state(str(self._checkpoint(epoch)))
        self.accelerator.wait_for_everyone()
        self.state["epoch"] = epoch
        if self.accelerator.is_main_process:
            _write_state(self.work_dir, self.state)
            shutil.rmtree(self._checkpoint(epoch - 1), ignore_errors=True)
        self.accelerator.wait_for_everyone()

    def close_logs(self) -> None:
        """Flush and close the TensorBoard logs (the main process holds them), before they are
        copied into the output folder; ``finish`` then ends the run."""
        for tracker in self.accelerator.trackers:
            tracker.finish()

    def finish(self) -> None:
        """Once the main process has written the output folder (the others wait for it here):
        remove the work folder and end the run (trackers and process group)."""
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            shutil.rmtree(self.work_dir)
        self.accelerator.end_training()

    def _checkpoint(self, epoch: int) -> Path:
        return self.work_dir / f"checkpoint-{epoch}"


def _check_start(
    work_dir: Path,
    flags: dict[str, Any],
    add_arguments: Callable[[argparse.ArgumentParser], None],
    resumable: Collection[str],
    data_sha256: str | None,
    processes: int,
) -> dict[str, Any] | None:
    """The saved state to resume, or None for a fresh run; refuses to silently drop an
    interrupted run or to resume one with other settings or data."""
    if not flags["resume"]:
        if work_dir.exists():
            raise UserError(
                f"an interrupted run is in {work_dir}: pass --resume to continue it, "
                "or delete that folder to start over"
            )
        return None
    if not (work_dir / STATE_FILE).is_file():
        raise UserError(f"--resume: no interrupted run to continue in {work_dir}")
    saved = read_json(work_dir / STATE_FILE)
    if flags["run_name"] not in (None, saved["run_name"]):
        raise UserError(
            f"--resume: --run-name {flags['run_name']!r} differs from the "
            f"interrupted run's {saved['run_name']!r} (its logs would split); leave "
            "it out to continue that run"
        )
    defaults = argparse.ArgumentParser()
    add_arguments(defaults)
    # A flag added since the run was saved: the run trained with its default.
    recorded = {key: saved["args"].get(key, defaults.get_default(key)) for key in flags}
    changed = [
        _flag(key)
        for key in sorted(flags)
        if key not in _RUN_FLAGS | set(resumable) and flags[key] != recorded[key]
    ]
    if saved.get("data_sha256") != data_sha256:
        changed.append("the data")
    # The batches, the steps per epoch and the classifier's learning-rate schedule depend on it.
    trained_on = saved.get("num_processes", 1)  # a run saved before this was recorded: one
    if trained_on != processes:
        changed.append(f"the number of processes (the run had {trained_on}, this has {processes})")
    if changed:
        raise UserError("--resume: these differ from the interrupted run: " + ", ".join(changed))
    return saved


def _write_state(work_dir: Path, state: dict[str, Any]) -> None:
    """Write the state file atomically: a crash leaves the old one or the new one."""
    tmp = work_dir / f"{STATE_FILE}.tmp"
    write_json(tmp, state)
    tmp.replace(work_dir / STATE_FILE)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")
