"""`python -m bot timers due|sweep`: what the scheduler will do, and doing it now.

`due --until` answers an operator's question before a weekend or a deploy: which automatic
steps, reminders and time limits fall due by then, in UTC and in each shop's own time.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.settings import Settings


def add_commands(commands) -> None:
    timers = commands.add_parser(
        "timers", help="timed steps, reminders and time limits"
    ).add_subparsers(dest="timers_command", required=True, metavar="TIMERS_COMMAND")
    due = timers.add_parser("due", help="list the timers that fall due by a moment")
    due.add_argument(
        "--until",
        required=True,
        type=moment,
        help="ISO time, e.g. 2026-11-30T09:00 (UTC unless it has an offset)",
    )
    due.add_argument("--shop", type=int, help="only this shop's (its id)")
    due.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    timers.add_parser("sweep", help="fire every timer due now, once, and say what it did")


def moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO time: {text!r} (e.g. 2026-11-30T09:00 or 2026-11-30T09:00+03:00)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.container import build_container
    from storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    container = build_container(settings)
    try:
        if args.timers_command == "due":
            return await _due(container, args)
        return await _sweep(container)
    finally:
        await container.close()


async def _due(container, args: argparse.Namespace) -> int:
    from services.time.timers import due_by
    from storage.database import reading

    async with reading(container.sessions) as session:
        due = await due_by(session, args.until, args.shop, args.limit)
    for timer in due:
        local = timer.due_at.astimezone(ZoneInfo(timer.shop_timezone))
        what = f"{timer.kind} {timer.code}"
        if timer.action and timer.action != timer.code:
            what += f" ({timer.action})"
        retried = f", tried {timer.attempts}x" if timer.attempts else ""
        print(
            f"{timer.due_at:%Y-%m-%d %H:%M} UTC  {local:%a %Y-%m-%d %H:%M} {timer.shop_timezone}"
            f"  shop {timer.shop_id} {timer.shop_name!r}  order #{timer.order_number}"
            f"  in {timer.status}: {what}{retried}"
        )
    more = " (the first ones; raise --limit for more)" if len(due) == args.limit else ""
    print(f"{len(due)} timer(s) due by {args.until:%Y-%m-%d %H:%M} UTC{more}", file=sys.stderr)
    return 0


async def _sweep(container) -> int:
    from bot.scheduler import build_sweep

    report = await build_sweep(container).run_once()
    for outcome, count in sorted(report.outcomes.items()):
        print(f"{count:6}  {outcome}")
    print(f"{report.fired} timer(s) fired, {report.errors} error(s)", file=sys.stderr)
    return 1 if report.errors else 0
