"""The command line: `python -m bot migrate | shop create | workflow ... | run | demo | ...`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import yaml

from bot import operations_cli, products_cli, timers_cli, token_cli, workflow_cli
from bot.settings import SettingsError, load_settings
from services.workflow.definition import WorkflowError
from services.workflow.presets import PRESETS, load_preset, preset_data
from services.workflow.reading import load_workflow

NOT_YET: dict[str, str] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="ShopBot: order management through Telegram and e-mail"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("migrate", help="bring the database (DATABASE_URL) to the newest schema")

    shop = commands.add_parser("shop", help="manage shops").add_subparsers(
        dest="shop_command", required=True, metavar="SHOP_COMMAND"
    )
    create = shop.add_parser("create", help="create a shop; prints its id and storefront token")
    create.add_argument("--name", required=True, help="the shop's name")
    create.add_argument(
        "--owner-telegram-id", required=True, type=int, help="the owner's numeric Telegram id"
    )
    create.add_argument(
        "--preset",
        default="marketplace",
        choices=PRESETS,
        help="the workflow to start from (default: marketplace)",
    )
    create.add_argument("--email", help="where new-order e-mails go")
    create.add_argument("--timezone", default="Europe/Moscow")
    create.add_argument("--country", default="RU", help="ISO code: public holidays and phones")
    create.add_argument("--currency", default="RUB")
    create.add_argument("--language", default="ru", choices=("ru", "uk", "en"))
    token_cli.add_commands(shop)
    operations_cli.add_shop_commands(shop)

    workflow = commands.add_parser("workflow", help="inspect and check workflows").add_subparsers(
        dest="workflow_command", required=True, metavar="WORKFLOW_COMMAND"
    )
    workflow.add_parser("list", help="the preset workflows")
    validate = workflow.add_parser("validate", help="check a workflow file (YAML or JSON)")
    validate.add_argument("file", type=Path)
    show = workflow.add_parser("show", help="print a preset as YAML")
    show.add_argument("preset", choices=PRESETS)
    workflow_cli.add_commands(workflow)

    commands.add_parser("run", help="run the bot (long polling) against TELEGRAM_API_URL")
    emulator = commands.add_parser(
        "emulator", help="run the built-in Telegram Bot API emulator (see docs/emulator.md)"
    )
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8081)
    emulator.add_argument(
        "--no-flood-limits",
        action="store_true",
        help="do not answer 429 when Telegram's rate limits are exceeded",
    )

    demo = commands.add_parser(
        "demo", help="play a whole order through the bot against the emulator and print the chats"
    )
    demo.add_argument("--preset", default="marketplace", choices=("marketplace", "platform"))

    timers_cli.add_commands(commands)
    operations_cli.add_commands(commands)
    products_cli.add_commands(commands)
    for name, reason in NOT_YET.items():
        commands.add_parser(name, help=f"not yet: {reason}")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(dispatch(args))


def dispatch(args: argparse.Namespace) -> int:
    if args.command in NOT_YET:
        print(f"not yet: {NOT_YET[args.command]}", file=sys.stderr)
        return 2
    if args.command == "workflow" and args.workflow_command not in workflow_cli.SHOP_COMMANDS:
        return workflow_command(args)
    if args.command == "demo":
        from bot.demo import main as demo

        return demo(args.preset)
    if args.command == "emulator":
        from bot.sandbox.server import serve_forever

        print(f"Telegram Bot API emulator on http://{args.host}:{args.port}")
        asyncio.run(serve_forever(args.host, args.port, flood_limits=not args.no_flood_limits))
        return 0
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    if args.command == "migrate":
        from storage.migrate import head_revision, upgrade

        before = upgrade(settings.database_url)
        head = head_revision()
        url = safe_url(settings.database_url)
        if before == (head,):
            print(f"{url} is at the newest schema already ({head})")
        else:
            was = ", ".join(before) or "empty"
            print(f"migrated {url} to the newest schema ({head}; was {was})")
        return 0
    if args.command == "shop" and args.shop_command == "token":
        return asyncio.run(token_cli.run(settings, args))
    if args.command == "shop" and args.shop_command in operations_cli.SHOP_COMMANDS:
        return asyncio.run(operations_cli.run_shop(settings, args))
    if args.command in ("secrets", "backup", "buyers"):
        return asyncio.run(operations_cli.run(settings, args))
    if args.command == "shop":
        return asyncio.run(create_shop(settings, args))
    if args.command == "timers":
        return asyncio.run(timers_cli.run(settings, args))
    if args.command == "workflow":
        return asyncio.run(workflow_cli.run(settings, args))
    if args.command == "products":
        return asyncio.run(products_cli.run(settings, args))
    if args.command == "run":
        if not settings.bot_token.get_secret_value():
            print("BOT_TOKEN: set the bot's token (any 123:abc for the emulator)", file=sys.stderr)
            return 2
        from bot.logs import setup_logging, setup_sentry
        from bot.runner import run

        setup_logging(settings.log_level, settings.log_format)
        if settings.sentry_dsn is not None:
            setup_sentry(settings.sentry_dsn.get_secret_value(), secrets=secret_values(settings))
        asyncio.run(run(settings))
        return 0
    return 2


def secret_values(settings) -> tuple[str, ...]:
    """Every secret of the settings, for the Sentry scrubber to remove wherever it appears."""
    values = [settings.bot_token, settings.smtp_password, settings.imap_password]
    values += [settings.webhook_secret, settings.secret_key, settings.secret_key_previous]
    found = [v.get_secret_value() for v in values if v is not None]
    return tuple(s for value in found for s in value.split(",") if s.strip())


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def create_shop(settings, args: argparse.Namespace) -> int:
    from bot.container import build_container
    from storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    container = build_container(settings)
    try:
        created = await container.shops.create_shop(
            name=args.name,
            owner_telegram_id=args.owner_telegram_id,
            preset=args.preset,
            email=args.email,
            timezone=args.timezone,
            country=args.country,
            currency=args.currency,
            language=args.language,
        )
    except ValueError as error:
        print(f"cannot create the shop: {error}", file=sys.stderr)
        return 1
    finally:
        await container.close()
    print(f"shop id: {created.shop.id}")
    print(f"storefront API token (shown once, keep it secret): {created.api_token}")
    return 0


def workflow_command(args: argparse.Namespace) -> int:
    if args.workflow_command == "list":
        for code in PRESETS:
            workflow = load_preset(code)
            print(
                f"{code:12} {workflow.title['en']}: {len(workflow.statuses)} statuses, "
                f"{len(workflow.transitions)} transitions, {len(workflow.timers)} timers"
            )
        return 0
    if args.workflow_command == "show":
        print(yaml.safe_dump(preset_data(args.preset), allow_unicode=True, sort_keys=False))
        return 0
    try:
        text = args.file.read_text(encoding="utf-8")
        data = json.loads(text) if args.file.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        print(f"{args.file}: cannot read: {error}", file=sys.stderr)
        return 1
    try:
        workflow = load_workflow(data)
    except WorkflowError as error:
        print(f"{args.file}: {len(error.problems)} problem(s):", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"{args.file}: valid workflow '{workflow.code}' with {len(workflow.statuses)} statuses")
    return 0
