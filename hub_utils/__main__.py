"""``python -m hub_utils {check,push,pull,deploy-space}``: user errors print one clear line (a
refused check: one line per reason) and exit 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub_utils import hub
from hub_utils.errors import HubError
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
    return parser


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except HubError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
