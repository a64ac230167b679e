"""Products in and out as files (issue 19): CSV and XLSX, one product per row.

Import checks every row first and reports each bad one by its row number and column; then
it writes all rows or none (the default), or only the good ones when asked. The columns are
those of the export, so an exported file edited and imported again changes what was edited.
`reserved` and `available` are exported for reading; an import ignores them (orders hold
stock, not files). An import sets the count with an `import` movement; it sends no webhook
per row (the storefront that gave the file knows it).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal

from services.orders.money import exponent, to_minor
from services.products import stock
from services.products.catalog import ProductDraft, ProductService, check
from services.refusals import Refused
from services.vocabulary import AVAILABILITIES, IN_STOCK

COLUMNS = (
    "sku",
    "title",
    "price",
    "currency",
    "availability",
    "on_hand",
    "reserved",
    "available",
    "low_stock_at",
    "returnable",
    "return_days",
    "parent_sku",
    "variant",
    "archived",
    "title_ru",
    "title_uk",
    "title_en",
)
REQUIRED = ("sku", "title")
MAX_ROWS = 50_000
_TRUE = {"1", "yes", "true", "y", "да", "так", "+"}
_FALSE = {"", "0", "no", "false", "n", "нет", "ні", "-"}


class FileRefused(ValueError):
    """The file as a whole cannot be read (not CSV/XLSX, no header, too many rows)."""


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    saved: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})


def read_table(data: bytes, filename: str) -> list[dict[str, str]]:
    """The rows of a CSV (UTF-8, `,` `;` or tab) or XLSX file as {column: text}."""
    if filename.lower().endswith(".xlsx"):
        rows = _xlsx_rows(data)
    else:
        rows = _csv_rows(data)
    if not rows:
        raise FileRefused("the file is empty")
    header = [str(cell or "").strip().lower() for cell in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FileRefused(f"the first row must name the columns; missing: {', '.join(missing)}")
    if len(rows) - 1 > MAX_ROWS:
        raise FileRefused(f"at most {MAX_ROWS} rows in one file")
    table = []
    for row in rows[1:]:
        cells = [_text(cell) for cell in row]
        if not any(cells):
            table.append({})  # a blank row keeps the numbering; skipped
            continue
        table.append({name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header)})
    return table


def _text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileRefused("a CSV file must be UTF-8") from error
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _xlsx_rows(data: bytes) -> list[list]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not XLSX
        raise FileRefused("not an XLSX file") from error
    try:
        return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def parse_row(row: dict[str, str], number: int, currency: str) -> ProductDraft | list[RowError]:
    """One row as a product draft, or every problem it has."""
    errors: list[RowError] = []

    def bad(column: str, message: str) -> None:
        errors.append(RowError(number, column, message))

    def whole(column: str, default: int | None) -> int | None:
        text = row.get(column, "").replace(" ", "")
        if not text:
            return default
        if not text.isdigit():
            bad(column, "a whole number of zero or more")
            return default
        return int(text)

    def flag(column: str) -> bool:
        text = row.get(column, "").lower()
        if text in _TRUE:
            return True
        if text not in _FALSE:
            bad(column, "yes or no")
        return False

    row_currency = (row.get("currency") or currency).upper()
    price = 0
    try:
        price = to_minor(
            row.get("price", "").replace(" ", "").replace(",", ".") or "0", row_currency
        )
        if price < 0:
            raise ValueError("negative")
    except ValueError:
        bad("price", "a price like 1490 or 1490.50")
    availability = row.get("availability", "").lower() or IN_STOCK
    if availability not in AVAILABILITIES:
        bad("availability", f"one of {', '.join(AVAILABILITIES)}")
    titles = {lang: row.get(f"title_{lang}", "") for lang in ("ru", "uk", "en")}
    draft = ProductDraft(
        sku=row.get("sku", ""),
        title=row.get("title", ""),
        price=price,
        currency=row_currency,
        availability=availability,
        returnable=flag("returnable"),
        return_days=whole("return_days", 0) or 0,
        parent_sku=row.get("parent_sku") or None,
        variant=row.get("variant", ""),
        archived=flag("archived"),
        low_stock_at=whole("low_stock_at", None),
        on_hand=whole("on_hand", None),
        titles={k: v for k, v in titles.items() if v},
    )
    if errors:
        return errors
    try:
        return check(draft)
    except Refused as refused:
        return [RowError(number, refused.params.get("field", "?"), refused.message)]


async def import_file(
    products: ProductService,
    shop_id: int,
    user_id: int | None,
    data: bytes,
    filename: str,
    currency: str,
    *,
    good_rows_only: bool = False,
) -> ImportReport:
    """Read, check and save; with errors, nothing is saved unless `good_rows_only`."""
    table = read_table(data, filename)
    report = ImportReport()
    drafts: list[ProductDraft] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(table, start=2):
        if not row:
            continue
        report.rows += 1
        parsed = parse_row(row, index, currency)
        if isinstance(parsed, list):
            report.errors += parsed
            continue
        if parsed.sku in seen:
            report.errors.append(RowError(index, "sku", f"the same SKU as row {seen[parsed.sku]}"))
            continue
        seen[parsed.sku] = index
        drafts.append(parsed)
    held = {p.sku: p.reserved for p in await products.all(shop_id, user_id)}
    known = set(held) | set(seen)
    for draft in list(drafts):
        if draft.parent_sku and draft.parent_sku not in known:
            report.errors.append(
                RowError(seen[draft.sku], "parent_sku", f"no product '{draft.parent_sku}'")
            )
            drafts.remove(draft)
        elif draft.on_hand is not None and draft.on_hand < held.get(draft.sku, 0):
            report.errors.append(
                RowError(
                    seen[draft.sku],
                    "on_hand",
                    f"at least {held[draft.sku]}: that many are held for open orders",
                )
            )
            drafts.remove(draft)
    if report.errors and not good_rows_only:
        return report
    if drafts:
        saved = await products.save_many(
            shop_id, user_id, drafts, kind=stock.Movement.IMPORT, reason="import", notify=False
        )
        report.saved = len(saved)
    return report


def export_rows(products) -> list[list]:
    rows: list[list] = [list(COLUMNS)]
    by_id = {p.id: p.sku for p in products}
    for p in products:
        places = exponent(p.currency)
        price = Decimal(p.price).scaleb(-places)
        rows.append(
            [
                p.sku,
                p.title,
                f"{price:.{places}f}",
                p.currency,
                p.availability,
                p.on_hand,
                p.reserved,
                p.available,
                "" if p.low_stock_at is None else p.low_stock_at,
                "yes" if p.returnable else "no",
                p.return_days,
                by_id.get(p.parent_id, "") if p.parent_id else "",
                p.variant,
                "yes" if p.archived else "no",
                p.titles.get("ru", ""),
                p.titles.get("uk", ""),
                p.titles.get("en", ""),
            ]
        )
    return rows


def export_file(products, filename: str) -> bytes:
    """All the shop's products as CSV (UTF-8 with BOM, for spreadsheets) or XLSX."""
    rows = export_rows(products)
    if filename.lower().endswith(".xlsx"):
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("products")
        for row in rows:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def report_text(report: ImportReport, limit: int = 30) -> str:
    """The per-row report, in English for the command line (the bot words its own)."""
    lines = [f"{report.rows} rows, {report.saved} saved, {report.bad_rows} with errors"]
    for error in report.errors[:limit]:
        lines.append(f"row {error.row}, {error.column}: {error.message}")
    if len(report.errors) > limit:
        lines.append(f"... and {len(report.errors) - limit} more")
    return "\n".join(lines)
