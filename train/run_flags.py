"""Flags and steps that ``train classify`` and ``train topics`` share, so they mean the same."""

from __future__ import annotations

import argparse
from pathlib import Path

from train.errors import UserError


def add_run_flags(group: argparse._ArgumentGroup) -> None:
    """--run-name, --resume and --push-to-hub."""
    group.add_argument("--run-name", help="TensorBoard run name (default: date and time)")
    group.add_argument("--resume", action="store_true",
                       help="continue an interrupted run from its last epoch checkpoint")
    group.add_argument("--push-to-hub", metavar="REPO_ID",
                       help="after a successful run, upload the folder to this Hub repo")


def require_at_least_one(args: argparse.Namespace, names: tuple[str, ...]) -> None:
    """Refuse integer flags below 1, naming the flag."""
    for name in names:
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")


def push_if_asked(output_dir: Path, args: argparse.Namespace) -> None:
    """Upload a finished output folder when --push-to-hub was given."""
    if args.push_to_hub:
        from hub_utils.hub import push

        print(f"pushed: {push(output_dir, args.push_to_hub)}")
