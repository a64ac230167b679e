"""The operator's commands: `shop list|suspend|resume`, `secrets reseal`, `backup FILE`,
`buyers forget|retention` (docs/operations.md, docs/personal-data.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.refusals import Refused

SHOP_COMMANDS = ("list", "suspend", "resume")


def add_shop_commands(shop_commands) -> None:
    """Adds `list`, `suspend` and `resume` under `python -m bot shop`."""
    shop_commands.add_parser("list", help="every shop: id, name, owners, orders, suspension")
    suspend = shop_commands.add_parser(
        "suspend",
        help="close a shop for business: API 403, staff cannot change orders (nothing is lost)",
    )
    suspend.add_argument("--shop", required=True, type=int, help="the shop's id")
    suspend.add_argument("--reason", required=True, help="shown to the shop's staff in the bot")
    resume = shop_commands.add_parser("resume", help="lift a suspension")
    resume.add_argument("--shop", required=True, type=int, help="the shop's id")


def add_commands(commands) -> None:
    """Adds `secrets`, `backup` and `buyers` to `python -m bot`."""
    secrets = commands.add_parser(
        "secrets", help="SECRET_KEY rotation: move sealed credentials to the newest key"
    ).add_subparsers(dest="secrets_command", required=True, metavar="SECRETS_COMMAND")
    secrets.add_parser(
        "reseal", help="re-encrypt every sealed credential with SECRET_KEY (after a rotation)"
    )
    backup = commands.add_parser(
        "backup", help="SQLite: a consistent copy while the bot runs; PostgreSQL: the pg_dump way"
    )
    backup.add_argument("file", type=Path, help="the backup file to write (must not exist)")
    buyers = commands.add_parser(
        "buyers", help="buyers' personal data: forget on request, erase past retention"
    ).add_subparsers(dest="buyers_command", required=True, metavar="BUYERS_COMMAND")
    forget = buyers.add_parser(
        "forget", help="erase a buyer's personal data in a shop; orders' money and history stay"
    )
    forget.add_argument("--shop", required=True, type=int, help="the shop's id")
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--phone", help="the buyer's phone, in any usual form")
    who.add_argument("--email", help="the buyer's e-mail address")
    who.add_argument("--buyer", type=int, help="the buyer's id")
    forget.add_argument(
        "--force", action="store_true", help="also when orders of theirs are not closed yet"
    )
    forget.add_argument("--dry-run", action="store_true", help="only say what would be erased")
    buyers.add_parser(
        "retention",
        help="erase now the buyer data of closed orders past their shop's retention period",
    )


async def run_shop(settings, args: argparse.Namespace) -> int:
    from bot.container import build_container
    from storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    container = build_container(settings)
    shops = container.shop_operations
    try:
        if args.shop_command == "list":
            lines = await shops.list()
            if not lines:
                print("no shops")
            for line in lines:
                print(_shop_line(line))
        elif args.shop_command == "suspend":
            print(_shop_line(await shops.suspend(args.shop, args.reason)))
        else:
            print(_shop_line(await shops.resume(args.shop)))
    except Refused as refusal:
        print(f"refused: {refusal.message}", file=sys.stderr)
        return 1
    finally:
        await container.close()
    return 0


def _shop_line(line) -> str:
    owners = ",".join(str(i) for i in line.owner_telegram_ids) or "-"
    state = (
        f"SUSPENDED since {line.suspended_at:%Y-%m-%d %H:%M} UTC: {line.suspension_reason}"
        if line.suspended
        else "active"
    )
    return (
        f"{line.id:>6}  {line.name[:32]:<32}  owner {owners:<12}  {line.orders:>7} order(s)  "
        f"since {line.created_at:%Y-%m-%d}  {state}"
    )


async def run(settings, args: argparse.Namespace) -> int:
    if args.command == "backup":
        return backup(settings, args.file)
    from bot.container import build_container
    from storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    container = build_container(settings)
    try:
        if args.command == "secrets":
            return await reseal(container)
        return await buyers(container, args)
    except Refused as refusal:
        print(f"refused: {refusal.message}", file=sys.stderr)
        return 1
    finally:
        await container.close()


async def reseal(container) -> int:
    from services.operations.reseal import Resealer, describe, sealed_columns
    from storage.models import Base

    columns = sealed_columns(Base.metadata)
    report = await Resealer(container.sessions, container.vault, columns).run()
    for line in describe(report):
        print(line)
    if report.unreadable:
        print(
            "some values open with no configured key: put the key they were sealed with back "
            "into SECRET_KEY_PREVIOUS and run this again",
            file=sys.stderr,
        )
        return 1
    return 0


def backup(settings, target: Path) -> int:
    from storage.backup import BackupError, backup_sqlite, pg_dump_command, pg_restore_command
    from storage.database import is_sqlite

    if not is_sqlite(settings.database_url):
        # The server's own tools make PostgreSQL backups; the password stays out of argv.
        print("PostgreSQL is backed up with its own tools. Run (password in PGPASSWORD):")
        print(f"  {pg_dump_command(settings.database_url, target)}")
        print("and to restore into an empty database, with the bot stopped:")
        print(f"  {pg_restore_command(settings.database_url, target)}")
        return 2
    try:
        made = backup_sqlite(settings.database_url, target)
    except (BackupError, OSError) as error:
        print(f"no backup made: {error}", file=sys.stderr)
        return 1
    print(f"backed up to {made.path} ({made.size} bytes, {made.tables} tables, integrity ok)")
    return 0


async def buyers(container, args: argparse.Namespace) -> int:
    if args.buyers_command == "retention":
        erased = await container.personal_data.erase_expired()
        print(f"{erased} closed order(s) past their shop's retention period erased")
        return 0
    report = await container.personal_data.forget(
        args.shop,
        phone=args.phone,
        email=args.email,
        buyer_id=args.buyer,
        force=args.force,
        dry_run=args.dry_run,
    )
    numbers = ", ".join(f"#{n}" for n in report.orders) or "none"
    print(f"{report.buyers} buyer record(s), orders {numbers}")
    if report.erased:
        print("personal data erased; the orders' amounts, statuses and history stay")
        return 0
    if args.dry_run:
        print("dry run: nothing erased")
        return 0
    still_open = ", ".join(f"#{n}" for n in report.open_orders)
    print(
        f"not erased: orders {still_open} are not closed; the shop could not deliver them. "
        "Close them first, or add --force",
        file=sys.stderr,
    )
    return 1
