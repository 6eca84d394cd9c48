"""``python -m hub_utils {check,push,pull,deploy-space,classify-file,topics-file,merge-scores}``:
user errors print one clear line (a refused check: one line per reason) and exit 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub_utils import hub
from hub_utils.errors import BadRequestError, HubError
from hub_utils.hub.defaults import SPACE_REPO, SPAM_MODEL_REPO, TOPIC_MODEL_REPO

_AUTH = (
    "Writing needs a token with write access: HF_TOKEN or `hf auth login`. "
    "HF_ENDPOINT selects another Hub; HF_HOME holds the cache."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hub_utils",
        description="Publish and load this project's models and its Space on the Hugging Face Hub.",
        epilog=_AUTH,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="check that a model folder is safe and valid to publish (push runs the same)",
        description="Refuse a folder holding a local path (absolute, ~ or $HOME; in text "
        "files and in TensorBoard event files), a pickle-based file, card metadata the Hub "
        "would reject (base_model or datasets that are not Hub ids, an unknown license, an "
        "incomplete model-index) or a missing file of its kind (classifier or topic model).",
    )
    check.add_argument("folder", type=Path, help="output folder of `python -m train ...`")
    check.set_defaults(run=_check)

    push = commands.add_parser(
        "push",
        help="upload a trained model folder with its card and TensorBoard logs",
        description="Check the folder as `check` does, create the model repo if needed and "
        "upload the whole folder, runs/ (TensorBoard event files) and README.md included; "
        "unchanged files are skipped.",
        epilog=_AUTH,
    )
    push.add_argument("folder", type=Path, help="output folder of `python -m train ...`")
    push.add_argument("repo_id", help=f"model repo, e.g. {SPAM_MODEL_REPO}")
    push.add_argument("--private", action="store_true", help="create the repo as private")
    push.add_argument("--revision", help="existing branch to commit to (default: main)")
    push.add_argument("--message", help="commit message")
    push.add_argument(
        "--delete-missing",
        action="store_true",
        help="also delete remote files that are not in the folder",
    )
    push.set_defaults(run=_push)

    pull = commands.add_parser(
        "pull",
        help="download a model into the Hub cache and print its local folder",
        description="Download a model repo (or reuse the cached copy) and print its folder; "
        "with HF_HUB_OFFLINE=1 the cached copy is used.",
    )
    pull.add_argument("repo_id", help=f"model repo, e.g. {SPAM_MODEL_REPO}, or a local folder")
    pull.add_argument("--revision", help="branch or commit sha to pin (default: main)")
    pull.set_defaults(run=_pull)

    space = commands.add_parser(
        "deploy-space",
        help="create or update the Gradio demo Space",
        description="Upload app.py, requirements-space.txt (as the Space's requirements.txt), "
        "hub_utils/ and a README with the Space settings to a Gradio Space; other files in the "
        "Space are deleted.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog=_AUTH,
    )
    space.add_argument("space_id", nargs="?", default=SPACE_REPO, help="Space repo")
    space.add_argument(
        "--spam-model",
        default=SPAM_MODEL_REPO,
        help="classifier repo the app pulls (Space variable SPAM_MODEL)",
    )
    space.add_argument(
        "--topic-model",
        default=TOPIC_MODEL_REPO,
        help="topic model repo the app pulls (Space variable TOPIC_MODEL)",
    )
    space.add_argument(
        "--spam-revision",
        help="branch, tag or commit of the classifier to preload and serve "
        "(Space variable SPAM_MODEL_REVISION)",
    )
    space.add_argument(
        "--topic-revision",
        help="branch, tag or commit of the topic model to preload and serve "
        "(Space variable TOPIC_MODEL_REVISION)",
    )
    space.add_argument("--private", action="store_true", help="create the Space as private")
    space.add_argument("--message", help="commit message")
    space.set_defaults(run=_deploy_space)
    _add_scoring_commands(commands)
    return parser


def _add_scoring_commands(commands: argparse._SubParsersAction) -> None:
    for name, kind, columns in (
        ("classify-file", "classifier", "label, probability, note and p_<label> per label"),
        ("topics-file", "topic model", "dominant topic, probability, words, note, topic_<i>"),
    ):
        score = commands.add_parser(
            name,
            help=f"score every message of a file of any size with a {kind}",
            description=f"Read a CSV, TSV, TXT (one message a line), JSONL or Parquet file "
            f"chunk by chunk and write one row per input row, in order (row, text, {columns}) "
            "to a .csv or .parquet file. Empty or missing texts keep their row, with a note.",
        )
        score.add_argument("input", type=Path, help="messages: .csv .tsv .txt .jsonl .parquet")
        score.add_argument("--model", required=True, help="Hub repo id or local model folder")
        score.add_argument("--output", required=True, type=Path, help=".csv or .parquet file")
        score.add_argument("--revision", help="branch or commit of a Hub model")
        score.add_argument("--text-column", help="column of the texts (default: guessed by name)")
        score.add_argument(
            "--chunk-size", type=int, default=4096, help="messages per model call (4096)"
        )
        score.add_argument(
            "--batch-size",
            type=int,
            default=64,
            help="texts per forward pass of a topic model or an unexported classifier (64); "
            "an ONNX classifier runs each text alone",
        )
        score.add_argument(
            "--shard", default="0/1", help="i/n: score every n-th chunk from chunk i"
        )
        score.add_argument(
            "--threads",
            type=int,
            help="ONNX Runtime threads (default: one per core); a classifier runs that many "
            "texts at once, one thread each",
        )
        again = score.add_mutually_exclusive_group()
        again.add_argument("--resume", action="store_true", help="continue an interrupted run")
        again.add_argument("--overwrite", action="store_true", help="replace an existing output")
        score.add_argument("--no-progress", action="store_true", help="no progress on stderr")
        score.set_defaults(run=_score_file, kind=name)

    merge = commands.add_parser(
        "merge-scores",
        help="join the outputs of --shard runs into one file",
        description="Join the outputs of `classify-file`/`topics-file --shard i/n` runs (all "
        ".csv or all .parquet) by row number: the result is what one run writes.",
    )
    merge.add_argument("output", type=Path, help="merged .csv or .parquet file")
    merge.add_argument("parts", nargs="+", type=Path, help="each shard's output, once")
    merge.add_argument("--overwrite", action="store_true", help="replace an existing output")
    merge.set_defaults(run=_merge_scores)


def _check(args: argparse.Namespace) -> None:
    print(f"{args.folder}: ready to publish ({hub.check_folder(args.folder)})")


def _push(args: argparse.Namespace) -> None:
    print(
        hub.push(
            args.folder,
            args.repo_id,
            private=args.private,
            revision=args.revision,
            commit_message=args.message,
            delete_missing=args.delete_missing,
        )
    )


def _pull(args: argparse.Namespace) -> None:
    print(hub.pull(args.repo_id, revision=args.revision))


def _deploy_space(args: argparse.Namespace) -> None:
    # The names `make demo` uses too: the app reads the repos from these variables.
    variables = {"SPAM_MODEL": args.spam_model, "TOPIC_MODEL": args.topic_model}
    revisions = {}
    for name, repo, revision in (
        ("SPAM_MODEL", args.spam_model, args.spam_revision),
        ("TOPIC_MODEL", args.topic_model, args.topic_revision),
    ):
        if revision:
            variables[f"{name}_REVISION"] = revision
            revisions[repo] = revision
    print(
        hub.deploy_space(
            args.space_id,
            models=[args.spam_model, args.topic_model],
            variables=variables,
            revisions=revisions,
            private=args.private,
            commit_message=args.message,
        )
    )


def _score_file(args: argparse.Namespace) -> None:
    # Imported here: check/push/pull need neither ONNX Runtime nor the readers.
    from hub_utils.models.classifier import load_classifier
    from hub_utils.models.topic_onnx import load_topic_model
    from hub_utils.serving import file_scoring

    options = file_scoring.ScoreOptions(
        column=args.text_column,
        chunk_size=args.chunk_size,
        shard=file_scoring.parse_shard(args.shard),
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    folder = hub.pull(args.model, revision=args.revision)
    model_id = str(folder.resolve())
    if args.kind == "classify-file":
        classifier = load_classifier(folder, threads=args.threads)
        summary = file_scoring.score_classifier_file(
            args.input, args.output, classifier, options, model_id, args.batch_size
        )
    else:
        topics = load_topic_model(folder, threads=args.threads)
        summary = file_scoring.score_topic_file(
            args.input, args.output, topics, options, model_id, args.batch_size
        )
    print(summary.line())


def _merge_scores(args: argparse.Namespace) -> None:
    from hub_utils.serving.file_scoring import merge_scores

    rows = merge_scores(args.output, args.parts, overwrite=args.overwrite)
    print(f"{args.output}: {rows:,} rows from {len(args.parts)} parts")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (HubError, BadRequestError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if getattr(args, "kind", None):
            print("\ninterrupted: rerun with --resume to continue", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
