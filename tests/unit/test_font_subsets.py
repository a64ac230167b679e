"""A document whose font subset comes from the cache reads and draws as one subsetted anew."""

from __future__ import annotations

import io

import pypdf
import pypdfium2

from services.documents import font_subsets
from services.documents.pdf import html_to_pdf

HTML = "<h1>Счёт на оплату № 1042</h1><p><b>Итого:</b> 1 500,00 ₽ — Ромашка</p>"


def text_of(pdf: bytes) -> str:
    return pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def pixels_of(pdf: bytes) -> bytes:
    page = pypdfium2.PdfDocument(pdf)[0]
    return page.render(scale=1).to_pil().tobytes()


def test_a_kept_subset_gives_the_same_document():
    font_subsets._kept.clear()
    fresh = html_to_pdf(HTML)
    assert font_subsets._kept  # the subsets were kept ...
    kept = html_to_pdf(HTML)  # ... and this one took them
    assert "Счёт на оплату № 1042" in text_of(kept)
    assert text_of(kept) == text_of(fresh)
    assert pixels_of(kept) == pixels_of(fresh)


def test_other_characters_make_another_subset():
    font_subsets._kept.clear()
    html_to_pdf(HTML)
    before = len(font_subsets._kept)
    assert "Waybill 7" in text_of(html_to_pdf("<p>Waybill 7</p>"))
    assert len(font_subsets._kept) > before
