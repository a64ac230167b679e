"""Formatted text as Telegram reads it: parse_mode markup becomes plain text plus entities.

Telegram stores the plain text and a list of entities whose offsets and lengths count UTF-16
code units, and refuses markup it cannot parse with "can't parse entities: ...". Bots hit this
with unescaped user input (a customer named "<Ivan>"), so the emulator refuses it too.
HTML and MarkdownV2 are parsed; legacy "Markdown" is kept as it is.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from bot.sandbox.errors import ApiError, bad_request

Entity = dict[str, Any]

HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only with class="tg-spoiler"
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse(text: str, parse_mode: str | None) -> tuple[str, list[Entity] | None]:
    """The plain text and its entities; raises Bad Request on markup Telegram refuses."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _HtmlText(text).result()
    if mode == "markdownv2":
        return _MarkdownV2Text(text).result()
    return text, None


def command_entities(text: str) -> list[Entity] | None:
    """Telegram marks a leading "/command" (with an optional "@botname") as a bot_command."""
    match = COMMAND.match(text)
    if match is None:
        return None
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}]


def _cant_parse(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


class _HtmlText(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.plain: list[str] = []
        self.length = 0  # UTF-16 length of the plain text so far
        self.open: list[tuple[str, Entity]] = []
        self.entities: list[Entity] = []

    def result(self) -> tuple[str, list[Entity] | None]:
        self.feed(self.source)
        self.close()
        if self.open:
            tag = self.open[-1][0]
            raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{tag}"')
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return "".join(self.plain), self.entities or None

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        prefix = (
            "".join(self.lines[: line - 1]) + self.lines[line - 1][:column] if self.lines else ""
        )
        return len(prefix.encode())

    def handle_data(self, data: str) -> None:
        self.plain.append(data)
        self.length += utf16_len(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = HTML_TAGS.get(tag)
        attributes = dict(attrs)
        if kind is None or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise _cant_parse(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        entity: Entity = {"type": kind, "offset": self.length}
        if tag == "a":
            entity["url"] = attributes.get("href") or ""
        elif tag == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attributes.get("emoji-id") or ""
        elif tag == "code" and self.open and self.open[-1][0] == "pre":
            # <pre><code class="language-python"> gives the pre block its language.
            language = (attributes.get("class") or "").removeprefix("language-")
            if language:
                self.open[-1][1]["language"] = language
            entity = {}
        self.open.append((tag, entity))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            expected = f'"</{self.open[-1][0]}>"' if self.open else "no end tag"
            raise _cant_parse(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected {expected}, found "</{tag}>"'
            )
        _, entity = self.open.pop()
        if entity and self.length > entity["offset"]:
            entity["length"] = self.length - entity["offset"]
            self.entities.append(entity)


class _MarkdownV2Text:
    """MarkdownV2: *bold* _italic_ __underline__ ~strike~ ||spoiler|| `code` ```pre``` [t](url)."""

    RESERVED = set("_*[]()~`>#+-=|{}.!")
    MARKERS = {
        "*": "bold",
        "_": "italic",
        "__": "underline",
        "~": "strikethrough",
        "||": "spoiler",
    }

    def __init__(self, source: str) -> None:
        self.source = source
        self.plain: list[str] = []
        self.length = 0
        self.open: list[tuple[str, Entity, int]] = []  # marker, entity, byte offset
        self.entities: list[Entity] = []
        self.quote_start: int | None = None  # where the current "> quoted" lines began

    def result(self) -> tuple[str, list[Entity] | None]:
        text, position = self.source, 0
        while position < len(text):
            position = self._step(text, position)
        self._end_quote()
        if self.open:
            _, entity, offset = self.open[-1]
            name = entity["type"].replace("_", " ").title().replace(" ", "")
            raise _cant_parse(f"Can't find end of {name} entity at byte offset {offset}")
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return "".join(self.plain), self.entities or None

    def _add(self, chunk: str) -> None:
        self.plain.append(chunk)
        self.length += utf16_len(chunk)

    def _byte(self, position: int) -> int:
        return len(self.source[:position].encode())

    def _step(self, text: str, position: int) -> int:
        char = text[position]
        if char == "\\" and position + 1 < len(text):
            self._add(text[position + 1])
            return position + 2
        if text.startswith("```", position):
            return self._code(text, position, "```", "pre")
        if char == "`":
            return self._code(text, position, "`", "code")
        for marker in ("__", "||", "*", "_", "~"):
            if text.startswith(marker, position):
                self._toggle(marker, position)
                return position + len(marker)
        if char == "[":
            self.open.append(
                ("[", {"type": "text_link", "offset": self.length}, self._byte(position))
            )
            return position + 1
        if char == "]" and self.open and self.open[-1][0] == "[":
            return self._link_end(text, position)
        if char == ">" and (position == 0 or text[position - 1] == "\n"):
            if self.quote_start is None:
                self.quote_start = self.length
            return position + 1
        if char == "\n" and not text.startswith(">", position + 1):
            self._end_quote()
        if char in self.RESERVED:
            raise _cant_parse(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        self._add(char)
        return position + 1

    def _end_quote(self) -> None:
        if self.quote_start is not None and self.length > self.quote_start:
            length = self.length - self.quote_start
            self.entities.append(
                {"type": "blockquote", "offset": self.quote_start, "length": length}
            )
        self.quote_start = None

    def _toggle(self, marker: str, position: int) -> None:
        if self.open and self.open[-1][0] == marker:
            _, entity, _ = self.open.pop()
            if self.length > entity["offset"]:
                entity["length"] = self.length - entity["offset"]
                self.entities.append(entity)
            return
        entity = {"type": self.MARKERS[marker], "offset": self.length}
        self.open.append((marker, entity, self._byte(position)))

    def _code(self, text: str, position: int, fence: str, kind: str) -> int:
        start = position + len(fence)
        end = start
        while end < len(text) and not text.startswith(fence, end):
            end += 2 if text[end] == "\\" else 1
        if end >= len(text):
            name = "Pre" if kind == "pre" else "Code"
            raise _cant_parse(
                f"Can't find end of {name} entity at byte offset {self._byte(position)}"
            )
        body = re.sub(r"\\(.)", r"\1", text[start:end])
        entity: Entity = {"type": kind, "offset": self.length}
        if kind == "pre" and "\n" in body:
            language, rest = body.split("\n", 1)
            if language and " " not in language:
                entity["language"], body = language, rest
        self._add(body)
        if body:
            entity["length"] = utf16_len(body)
            self.entities.append(entity)
        return end + len(fence)

    def _link_end(self, text: str, position: int) -> int:
        _, entity, _ = self.open.pop()
        if not text.startswith("(", position + 1):
            raise _cant_parse(
                "Character ']' is reserved and must be escaped with the preceding '\\'"
            )
        close = text.find(")", position + 2)
        if close < 0:
            raise _cant_parse(f"Can't find end of a URL at byte offset {self._byte(position)}")
        entity["url"] = text[position + 2 : close].replace("\\)", ")")
        if self.length > entity["offset"]:
            entity["length"] = self.length - entity["offset"]
            self.entities.append(entity)
        return close + 1
