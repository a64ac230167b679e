"""`python -m bot shop token create|list|revoke`: storefront API tokens for the operator."""

from __future__ import annotations

import argparse
import sys

from services.refusals import Refused


def add_commands(shop_commands) -> None:
    """Adds `token` under `python -m bot shop`."""
    token = shop_commands.add_parser(
        "token", help="storefront API tokens: create (shown once), list, revoke"
    ).add_subparsers(dest="token_command", required=True, metavar="TOKEN_COMMAND")
    create = token.add_parser("create", help="make a token; it is printed once, never again")
    create.add_argument("--shop", required=True, type=int, help="the shop's id")
    create.add_argument("--name", default="storefront", help="what it is for (1-64 characters)")
    listing = token.add_parser("list", help="the shop's tokens (names and dates, never tokens)")
    listing.add_argument("--shop", required=True, type=int, help="the shop's id")
    revoke = token.add_parser("revoke", help="revoke a token at once (its id from `list`)")
    revoke.add_argument("--shop", required=True, type=int, help="the shop's id")
    revoke.add_argument("--id", required=True, type=int, dest="token_id", help="the token's id")


async def run(settings, args: argparse.Namespace) -> int:
    from bot.container import build_container
    from services.storefront.tokens import ApiTokenService
    from storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    container = build_container(settings)
    tokens = ApiTokenService(container.sessions, container.clock)
    try:
        if args.token_command == "create":
            made = await tokens.create(args.shop, args.name)
            print(f"token id: {made.info.id}")
            print(f"storefront API token (shown once, keep it secret): {made.token}")
        elif args.token_command == "list":
            listed = await tokens.list(args.shop)
            if not listed:
                print("no tokens")
            for info in listed:
                state = "active" if info.active else f"revoked {info.revoked_at:%Y-%m-%d %H:%M}"
                print(f"{info.id:>6}  {info.name:<24} {info.created_at:%Y-%m-%d %H:%M}  {state}")
        elif args.token_command == "revoke":
            info = await tokens.revoke(args.shop, args.token_id)
            print(f"token {info.id} ({info.name}) revoked")
    except Refused as refusal:
        print(f"refused: {refusal.message}", file=sys.stderr)
        return 1
    finally:
        await container.close()
    return 0
