"""HTML to PDF with fpdf2: pure Python (no pango or cairo to install), fast, Unicode fonts.

fpdf2 reads a subset of HTML: headings, paragraphs, <b>/<u> (no italics), <font color size face>,
<br>, <hr>, tables (border, width, align, bgcolor on cells, <th>), lists, and <img> (here
always a data: URI of a PNG the document variables made). docs/documents.md says what a
template may use. The DejaVu fonts are vendored with the code (services/documents/fonts),
so Cyrillic prints the same on every machine.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.errors import FPDFException
from fpdf.fonts import SubsetMap, TTFFont

from services.documents import font_subsets
from services.documents.sandbox import TemplateProblem

FONTS = Path(__file__).parent / "fonts"
FONT_FAMILY = "DejaVu"


FONT_FILES = {"": FONTS / "DejaVuSans.ttf", "B": FONTS / "DejaVuSans-Bold.ttf"}  # no italics


@cache
def _parsed(style: str) -> TTFFont:
    """A font as fpdf2 parsed it (widths, glyph map): parsing took most of a render's time."""
    scratch = FPDF()
    scratch.add_font(FONT_FAMILY, style, str(FONT_FILES[style]))
    return scratch.fonts[f"{FONT_FAMILY.lower()}{style}"]


def _add_fonts(pdf: FPDF) -> None:
    """The fonts, from the parsed ones: each document gets its own copy of what it changes
    (the glyphs it uses) and its own fontTools font, which writing the PDF subsets in place."""
    for style, path in FONT_FILES.items():
        parsed = _parsed(style)
        font = copy.copy(parsed)  # widths and glyph ids shared: they never change
        font.i = len(pdf.fonts) + 1
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.subset = SubsetMap(font)
        font.ttfont = font_subsets.DocumentFont(path)  # its subset may come ready-made
        pdf.fonts[font.fontkey] = font


def html_to_pdf(html: str, *, title: str = "") -> bytes:
    """A4 PDF of the template's HTML; TemplateProblem when fpdf2 cannot lay it out."""
    font_subsets.install()
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_creator("ShopBot")
    if title:
        pdf.set_title(title)
    _add_fonts(pdf)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, size=10)
    try:
        pdf.write_html(html, font_family=FONT_FAMILY)
        return bytes(pdf.output())
    except (
        FPDFException,
        NotImplementedError,
        ValueError,
        LookupError,
        TypeError,
        AttributeError,
        OSError,
    ) as error:
        # A table with rows of different widths, an image that is not one, ...
        raise TemplateProblem("error", f"the PDF cannot be laid out: {error}") from error
