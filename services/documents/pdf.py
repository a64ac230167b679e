"""HTML to PDF with fpdf2: pure Python (no pango or cairo to install), fast, Unicode fonts.

fpdf2 reads a subset of HTML: headings, paragraphs, <b>/<u> (no italics), <font color size face>,
<br>, <hr>, tables (border, width, align, bgcolor on cells, <th>), lists, and <img>.
docs/documents.md says what a template may use.

A template reads nothing from the machine or the network: fpdf2 would open any <img src> it
is given (a local path, a URL), so every src goes through `checked_image` first, which lets
through only a small `data:` URI of a PNG, JPEG or GIF (bytes and pixels capped; the
barcodes and QR codes the variables make are such). A document has at most MAX_PAGES pages
and MAX_PDF_BYTES bytes. The DejaVu fonts are vendored with the code (services/documents/fonts),
so Cyrillic prints the same on every machine.
"""

from __future__ import annotations

import base64
import binascii
import copy
import io
import re
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.errors import FPDFException
from fpdf.fonts import SubsetMap, TTFFont

from services.documents import font_subsets
from services.documents.sandbox import (
    IMAGE_REFUSED,
    PDF_TOO_LARGE,
    TOO_MANY_PAGES,
    TemplateProblem,
)

MAX_PAGES = 50  # an invoice or a waybill is a page or two; a runaway loop is not a document
MAX_PDF_BYTES = 5 * 1024 * 1024
MAX_IMAGE_BYTES = 512 * 1024  # of one data: image, decoded
MAX_IMAGE_PIXELS = 4_000_000  # width x height: a small PNG can unpack into gigabytes
IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF"}
_DATA_URI = re.compile(r"^data:(image/[a-z]+);base64,([A-Za-z0-9+/=\s]*)$", re.IGNORECASE)

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


class _CappedPDF(FPDF):
    """Stops a layout that would run past MAX_PAGES (a page break is where a long one grows)."""

    def add_page(self, *args, **kwargs):
        if self.page >= MAX_PAGES:
            raise TemplateProblem(
                "limit", f"the document would have more than {MAX_PAGES} pages", code=TOO_MANY_PAGES
            )
        return super().add_page(*args, **kwargs)


def checked_image(src: str) -> str:
    """An <img src> the PDF may show: a data: URI of a small PNG, JPEG or GIF; anything
    else (a path, a URL) is refused without being opened, so a template cannot read files
    or tell whether one exists."""
    refused = TemplateProblem(
        "forbidden",
        "images may only be data: URIs of a PNG, JPEG or GIF up to "
        f"{MAX_IMAGE_BYTES // 1024} KB and {MAX_IMAGE_PIXELS // 1_000_000} megapixels",
        code=IMAGE_REFUSED,
    )
    match = _DATA_URI.match(src.strip())
    if match is None or match.group(1).lower() not in IMAGE_TYPES:
        raise refused
    if len(match.group(2)) > MAX_IMAGE_BYTES * 4 // 3 + 1024:
        raise refused
    try:
        data = base64.b64decode(match.group(2), validate=False)
    except (binascii.Error, ValueError):
        raise refused from None
    if len(data) > MAX_IMAGE_BYTES:
        raise refused
    from PIL import Image  # fpdf2's own dependency; only its header is read here

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != IMAGE_TYPES[match.group(1).lower()]:
                raise refused
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        raise refused from None
    if width * height > MAX_IMAGE_PIXELS:
        raise refused
    return src


def html_to_pdf(html: str, *, title: str = "") -> bytes:
    """A4 PDF of the template's HTML; TemplateProblem when fpdf2 cannot lay it out, an image
    is refused, or the document is over its caps."""
    font_subsets.install()
    pdf = _CappedPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_creator("ShopBot")
    if title:
        pdf.set_title(title)
    _add_fonts(pdf)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, size=10)
    try:
        pdf.write_html(html, font_family=FONT_FAMILY, image_map=checked_image)
        output = bytes(pdf.output())
    except TemplateProblem:
        raise
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
    if len(output) > MAX_PDF_BYTES:
        raise TemplateProblem(
            "limit",
            f"the PDF would be larger than {MAX_PDF_BYTES // (1024 * 1024)} MB",
            code=PDF_TOO_LARGE,
        )
    return output
