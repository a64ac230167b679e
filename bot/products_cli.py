"""`python -m bot products import|export`: a shop's products and stock as CSV or XLSX files.

The format follows the file name (`.xlsx`, else CSV). An import prints one line per bad row
and writes nothing when there is any, unless `--good-rows` asks to write the good ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.settings import Settings


def add_commands(commands) -> None:
    products = commands.add_parser(
        "products", help="a shop's products and stock as CSV or XLSX files"
    ).add_subparsers(dest="products_command", required=True, metavar="PRODUCTS_COMMAND")
    load = products.add_parser("import", help="create or change products from a file")
    load.add_argument("--shop", type=int, required=True, help="the shop's id")
    load.add_argument("file", type=Path, help="a .csv (UTF-8) or .xlsx file")
    load.add_argument(
        "--good-rows",
        action="store_true",
        help="write the good rows even when others are bad (default: all or nothing)",
    )
    save = products.add_parser("export", help="write every product of the shop to a file")
    save.add_argument("--shop", type=int, required=True, help="the shop's id")
    save.add_argument("file", type=Path, help="a .csv or .xlsx file to write")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.container import build_container
    from services.products import transfer
    from services.refusals import Refused
    from storage.migrate import upgrade_async
    from storage.models import Shop

    await upgrade_async(settings.database_url)
    container = build_container(settings)
    try:
        async with container.sessions() as session:
            shop = await session.get(Shop, args.shop)
        if shop is None:
            print(f"no shop with the id {args.shop}", file=sys.stderr)
            return 1
        products = container.products
        if args.products_command == "export":
            found = await products.all(shop.id, None)
            args.file.write_bytes(transfer.export_file(found, args.file.name))
            print(f"{len(found)} product(s) written to {args.file}", file=sys.stderr)
            return 0
        try:
            report = await transfer.import_file(
                products,
                shop.id,
                None,
                args.file.read_bytes(),
                args.file.name,
                shop.currency,
                good_rows_only=args.good_rows,
            )
        except (OSError, transfer.FileRefused, Refused) as error:
            print(f"cannot import {args.file}: {error}", file=sys.stderr)
            return 1
        print(transfer.report_text(report, limit=1000))
        if report.errors and not args.good_rows:
            print("nothing written: fix the rows, or use --good-rows", file=sys.stderr)
            return 1
        return 0
    finally:
        await container.close()
