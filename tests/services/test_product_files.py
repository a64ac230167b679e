"""Products imported and exported as CSV and XLSX (issue 19): a per-row report; with errors
nothing is written, or only the good rows when asked; an export imports back unchanged."""

from __future__ import annotations

import io

from openpyxl import Workbook

from services.products import transfer
from tests.factories import make_shop
from tests.products_factories import counts, make_product, movements, product_service

GOOD = (
    "sku;title;price;on_hand;returnable;return_days;low_stock_at;title_en\n"
    "TEA-1;Чай зелёный;349,90;12;да;14;2;Green tea\n"
    "TEA-2;Чай чёрный;299;0;no;;;\n"
)


async def test_a_good_csv_is_imported_with_import_movements(services):
    shop = await make_shop(services)
    products = product_service(services)
    report = await transfer.import_file(
        products, shop.id, shop.manager.id, GOOD.encode(), "goods.csv", "RUB"
    )
    assert (report.rows, report.saved, report.errors) == (2, 2, [])
    tea = await products.get(shop.id, shop.manager.id, "TEA-1")
    assert (tea.price, tea.returnable, tea.return_days, tea.low_stock_at) == (34990, True, 14, 2)
    assert tea.titles == {"en": "Green tea"}
    assert await counts(services, shop, "TEA-1") == (12, 0, 12)
    assert await movements(services, shop, "TEA-1") == [("import", 12, 0, None)]


async def test_bad_rows_are_reported_and_nothing_is_written(services):
    shop = await make_shop(services)
    products = product_service(services)
    data = (
        (
            GOOD + "TEA-3;;10;1;no;;;\n"  # row 4: no title
            "TEA-1;Again;ten;x;maybe;;;\n"  # row 5: price, count, flag, and a repeated SKU
        ).encode()
    )
    report = await transfer.import_file(products, shop.id, shop.manager.id, data, "g.csv", "RUB")
    assert report.saved == 0
    assert {(e.row, e.column) for e in report.errors} == {
        (4, "title"),
        (5, "price"),
        (5, "on_hand"),
        (5, "returnable"),
    }
    assert await products.search(shop.id, shop.manager.id) == []
    assert "row 4, title: a title of 1 to 256 characters is needed" in transfer.report_text(report)

    # when the user chooses the good rows only, those are written
    report = await transfer.import_file(
        products, shop.id, shop.manager.id, data, "g.csv", "RUB", good_rows_only=True
    )
    assert report.saved == 2
    assert {p.sku for p in await products.search(shop.id, shop.manager.id)} == {"TEA-1", "TEA-2"}


async def test_an_xlsx_export_imports_back_and_keeps_what_orders_hold(services):
    shop = await make_shop(services)
    products = product_service(services)
    await make_product(
        services, shop, "A", on_hand=5, title="Alpha", returnable=True, return_days=7
    )
    await make_product(services, shop, "A-M", on_hand=1, title="Alpha", variant="M", parent_sku="A")
    exported = transfer.export_file(await products.all(shop.id, shop.owner.id), "p.xlsx")
    rows = transfer.read_table(exported, "p.xlsx")
    assert rows[0]["sku"] == "A" and rows[0]["price"] == "100.00"
    assert rows[1]["parent_sku"] == "A"

    report = await transfer.import_file(products, shop.id, shop.owner.id, exported, "p.xlsx", "RUB")
    assert (report.saved, report.errors) == (2, [])
    variant = await products.get(shop.id, shop.owner.id, "A-M")
    assert (variant.variant, variant.on_hand, variant.return_days) == ("M", 1, 0)
    # nothing changed, so no movements were added
    assert [m[0] for m in await movements(services, shop, "A")] == ["correction"]


async def test_an_xlsx_with_numbers_typed_as_numbers(services):
    shop = await make_shop(services)
    book = Workbook()
    sheet = book.active
    sheet.append(["SKU", "Title", "Price", "On_hand", "Parent_sku"])
    sheet.append(["X-1", "Thing", 10.5, 3, None])
    sheet.append(["X-2", "Other", 2, 1, "NOPE"])
    out = io.BytesIO()
    book.save(out)
    products = product_service(services)
    report = await transfer.import_file(
        products, shop.id, shop.owner.id, out.getvalue(), "t.xlsx", "RUB"
    )
    assert [(e.row, e.column) for e in report.errors] == [(3, "parent_sku")]
    assert report.saved == 0


def test_the_command_line_imports_and_exports(tmp_path):
    import asyncio

    from bot.container import build_container
    from bot.settings import Settings
    from tests.test_settings_and_cli import run_cli

    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"

    async def arrange() -> int:
        from storage.migrate import upgrade_async

        await upgrade_async(url)
        container = build_container(Settings(_env_file=None, database_url=url))
        try:
            return (await make_shop(container)).id
        finally:
            await container.close()

    shop_id = asyncio.run(arrange())
    env = {"DATABASE_URL": url}
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "TEA-3;;1;1;no;;;\n", encoding="utf-8")
    done = run_cli("products", "import", "--shop", str(shop_id), str(bad), cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert "row 4, title: a title of 1 to 256 characters is needed" in done.stdout
    assert "nothing written" in done.stderr
    done = run_cli(
        "products", "import", "--shop", str(shop_id), str(bad), "--good-rows", cwd=tmp_path, env=env
    )
    assert done.returncode == 0 and done.stdout.startswith("3 rows, 2 saved, 1 with errors")
    out = tmp_path / "out.xlsx"
    done = run_cli("products", "export", "--shop", str(shop_id), str(out), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert [r["sku"] for r in transfer.read_table(out.read_bytes(), out.name)] == ["TEA-1", "TEA-2"]


async def test_an_import_never_counts_below_what_orders_hold(services):
    from tests.factories import item, make_order

    shop = await make_shop(services)
    products = product_service(services)
    await make_product(services, shop, "TEA-1", on_hand=5)
    await make_order(services, shop, item("TEA-1", 3))
    report = await transfer.import_file(
        products, shop.id, shop.owner.id, b"sku,title,on_hand\nTEA-1,Tea,2\n", "t.csv", "RUB"
    )
    assert [(e.row, e.column) for e in report.errors] == [(2, "on_hand")]
    assert "3: that many are held for open orders" in report.errors[0].message
    assert await counts(services, shop, "TEA-1") == (5, 3, 2)
