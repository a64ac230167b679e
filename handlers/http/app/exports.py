"""The table's export (K1): the current filter as CSV (streamed) or XLSX (openpyxl, write-only
mode), with the same columns the table shows, in the person's language.

Cells that a spreadsheet would run as a formula (a buyer named "=HYPERLINK(...)") are
prefixed with an apostrophe (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from decimal import Decimal

from aiogram.utils.i18n import gettext as _
from aiohttp import web
from openpyxl import Workbook

from handlers.http.api.answers import decimal_string
from handlers.http.app.render import Renderer
from handlers.telegram.format import role_name, title
from services.desk.table import TableRow

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def headings() -> list[str]:
    return [
        _("Shop"),
        _("Number"),
        _("Date"),
        _("Buyer"),
        _("Phone"),
        _("Total"),
        _("Income"),
        _("Currency"),
        _("Status"),
        _("Responsible"),
        _("Problem"),
    ]


def cells(row: TableRow, language: str) -> list[object]:
    return [
        row.shop_name,
        row.number,
        row.created_at.strftime("%Y-%m-%d %H:%M"),
        row.buyer_name,
        row.buyer_phone or "",
        Decimal(decimal_string(row.total, row.currency)),
        Decimal(decimal_string(row.income, row.currency)),
        row.currency,
        title(row.status_title, language) or row.status,
        role_name(row.responsible) if row.responsible else "",
        _("yes") if row.problem else "",
    ]


def safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


async def csv_export(
    request: web.Request,
    batches: AsyncIterator[list[TableRow]],
    language: str,
    renderer: Renderer,
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="orders.csv"',
        }
    )
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # spreadsheets read the file as UTF-8 with the mark
    writer.writerow(renderer.words(language, headings))
    async for batch in batches:
        for row in batch:
            writer.writerow([safe(c) for c in renderer.words(language, cells, row, language)])
        await response.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


async def xlsx_export(
    batches: AsyncIterator[list[TableRow]], language: str, renderer: Renderer
) -> web.Response:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Orders")
    sheet.append(renderer.words(language, headings))
    async for batch in batches:
        for row in batch:
            sheet.append([safe(c) for c in renderer.words(language, cells, row, language)])
    output = io.BytesIO()
    book.save(output)
    return web.Response(
        body=output.getvalue(),
        headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": 'attachment; filename="orders.xlsx"',
        },
    )
