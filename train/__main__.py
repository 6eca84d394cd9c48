"""``python -m train {classify,topics}``: user errors print one clear line and exit 2."""

from __future__ import annotations

import argparse
import sys

from hub_utils.errors import HubError
from train.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    from train import classify, topics

    parser = argparse.ArgumentParser(
        prog="python -m train", description="Train this project's models with Accelerate."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    classify.add_arguments(
        commands.add_parser(
            "classify",
            help="fine-tune a BERT-family encoder for text classification",
            description=classify.__doc__,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
    )
    topics.add_arguments(
        commands.add_parser(
            "topics",
            help="train a Contextualized Topic Model on sentence embeddings",
            description=topics.__doc__,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (UserError, HubError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
