"""Font subsets made once per set of characters, not once per document.

fpdf2 embeds in each PDF a subset of the font with the glyphs the document uses: fontTools
reads the whole TrueType font (DejaVu Sans: 6,000 glyphs), subsets it and writes it out,
which was half of a document's time. Documents of one kind use nearly the same characters
(the same template, Cyrillic, digits), so the subset of a given set of glyphs is kept: the
next document with the same glyphs takes the subset's bytes and glyph ids from memory.

fpdf2 calls `fontTools.subset.Subsetter(options).populate(glyphs=...)`, then `.subset(ttfont)`,
then `ttfont.getGlyphID(name)` for each glyph and `ttfont.save(stream)`. The fonts we give it
(`DocumentFont`) take a kept subset in place of that work; other fonts go the usual way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any, BinaryIO

from fontTools import subset as ftsubset
from fontTools import ttLib

KEPT = 128  # subsets kept (a few tens of KB each): documents' character sets repeat


class DocumentFont(ttLib.TTFont):
    """A font for one document that can take a ready subset instead of being subsetted."""

    def __init__(self, path: Path):
        super().__init__(str(path), recalcTimestamp=False, lazy=True)
        self.source = str(path)
        self._subset: tuple[dict[str, int], bytes] | None = None

    def take_subset(self, glyph_ids: dict[str, int], data: bytes) -> None:
        self._subset = (glyph_ids, data)

    def getGlyphID(self, glyphName: str) -> int:
        if self._subset is not None:
            return self._subset[0][glyphName]
        return super().getGlyphID(glyphName)

    def save(self, file: BinaryIO, *args: Any, **kwargs: Any) -> None:
        if self._subset is not None and not isinstance(file, str | Path):
            file.write(self._subset[1])
            return
        super().save(file, *args, **kwargs)


_kept: OrderedDict[tuple, tuple[dict[str, int], bytes]] = OrderedDict()
_lock = threading.Lock()  # documents may be rendered in worker threads


class CachingSubsetter:
    """fontTools' Subsetter, with the subsets of `DocumentFont`s kept by glyph set."""

    def __init__(self, options: ftsubset.Options):
        self._options = options
        self._glyphs: frozenset[str] = frozenset()

    def populate(self, *, glyphs=(), **others: Any) -> None:
        if others:
            raise NotImplementedError("only glyph names are populated by fpdf2")
        self._glyphs = frozenset(glyphs)

    def subset(self, font: ttLib.TTFont) -> None:
        if not isinstance(font, DocumentFont):
            self._subset_in_place(font)
            return
        key = (font.source, self._glyphs, repr(sorted(vars(self._options).items())))
        with _lock:
            kept = _kept.get(key)
            if kept is not None:
                _kept.move_to_end(key)
        if kept is None:
            self._subset_in_place(font)
            glyph_ids = {name: font.getGlyphID(name) for name in font.getGlyphOrder()}
            stream = BytesIO()
            ttLib.TTFont.save(font, stream)
            kept = (glyph_ids, stream.getvalue())
            with _lock:
                _kept[key] = kept
                while len(_kept) > KEPT:
                    _kept.popitem(last=False)
        font.take_subset(*kept)

    def _subset_in_place(self, font: ttLib.TTFont) -> None:
        subsetter = ftsubset.Subsetter(self._options)
        subsetter.populate(glyphs=self._glyphs)
        subsetter.subset(font)


def install() -> None:
    """Have fpdf2's PDF writer subset through the cache (it uses fontTools.subset through
    its own module global, so only fpdf2 is affected)."""
    from fpdf import output

    if isinstance(output.ftsubset, SimpleNamespace):
        return
    output.ftsubset = SimpleNamespace(Options=ftsubset.Options, Subsetter=CachingSubsetter)
