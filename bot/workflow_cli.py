"""`python -m bot workflow install|export|move --shop N`: a shop's own workflow as a file.

The same service as the bot's screens (services/workflow/editing.py): a file is validated
with the same problem texts as `workflow validate`, and installed as the shop's next version.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.refusals import OrderRefused, Refused

SHOP_COMMANDS = ("install", "export", "move")


def add_commands(workflow_commands) -> None:
    install = workflow_commands.add_parser(
        "install", help="install a workflow file (YAML or JSON) as the shop's next version"
    )
    install.add_argument("--shop", required=True, type=int, help="the shop's id")
    install.add_argument("file", type=Path)
    install.add_argument(
        "--move",
        action="store_true",
        help="also move the shop's open orders to it (statuses of the same code)",
    )
    export = workflow_commands.add_parser("export", help="print the shop's workflow as YAML")
    export.add_argument("--shop", required=True, type=int, help="the shop's id")
    move = workflow_commands.add_parser(
        "move", help="move the shop's open orders to its newest workflow version"
    )
    move.add_argument("--shop", required=True, type=int, help="the shop's id")
    move.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="where orders in a status the new version lacks go (repeatable)",
    )


async def run(settings, args: argparse.Namespace) -> int:
    from bot.container import build_container
    from services.workflow.editing import WorkflowProblems, dump_file, parse_file
    from storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    container = build_container(settings)
    editor = container.workflow_editor
    try:
        if args.workflow_command == "export":
            version, body = await editor.export(args.shop, None)
            print(f"# shop {args.shop}, workflow version {version}")
            print(dump_file(body), end="")
        elif args.workflow_command == "install":
            try:
                body = parse_file(args.file.read_bytes(), args.file.name)
            except OSError as error:
                print(f"{args.file}: cannot read: {error}", file=sys.stderr)
                return 1
            saved = await editor.install(args.shop, None, body)
            print(f"installed as version {saved.version} of shop {args.shop}'s workflow")
            plan = saved.moves
            if args.move and plan.total:
                moved = await editor.move_open_orders(args.shop, None)
                print(f"moved {moved} open order(s) to version {saved.version}")
            elif plan.total:
                print(
                    f"{plan.total} open order(s) keep their versions; move them with "
                    f"`python -m bot workflow move --shop {args.shop}`"
                )
        elif args.workflow_command == "move":
            mapping = dict(pair.split("=", 1) for pair in args.map if "=" in pair)
            moved = await editor.move_open_orders(args.shop, None, mapping)
            print(f"moved {moved} open order(s) to the newest version")
    except WorkflowProblems as problems:
        print(f"{getattr(args, 'file', '')}: {len(problems.problems)} problem(s):", file=sys.stderr)
        for problem in problems.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except (Refused, OrderRefused) as refusal:
        print(f"refused: {refusal.message}", file=sys.stderr)
        return 1
    finally:
        await container.close()
    return 0
