"""Files: sendDocument, sendPhoto, sendMediaGroup and getFile.

A bot gives a file as an upload (aiogram names the part at random and sends the field as
"attach://<part>"), as the file_id of a file Telegram already has, or as an HTTP URL Telegram
downloads. Every stored file keeps its bytes, so tests can read what a user received.
"""

from __future__ import annotations

import mimetypes
import struct
from typing import Any
from urllib.parse import unquote, urlparse

import aiohttp
from aiohttp.web_request import FileField

from bot.sandbox import errors
from bot.sandbox.errors import ApiError, bad_request
from bot.sandbox.methods.context import (
    Context,
    Handler,
    formatted,
    post,
    reply_target,
    take_flood_token,
    writable_chat,
)
from bot.sandbox.params import Params
from bot.sandbox.rules import MAX_DOWNLOAD, MAX_UPLOAD, check_caption
from bot.sandbox.state import StoredFile, World

JsonDict = dict[str, Any]
ENTITY_TOO_LARGE = ApiError(413, "Request Entity Too Large")


async def send_document(ctx: Context, params: Params) -> JsonDict:
    return await _send_file(ctx, params, "document")


async def send_photo(ctx: Context, params: Params) -> JsonDict:
    return await _send_file(ctx, params, "photo")


async def _send_file(ctx: Context, params: Params, kind: str) -> JsonDict:
    chat = writable_chat(ctx.world, params)
    caption, entities = formatted(params, "caption", "caption_entities")
    check_caption(caption)
    stored = await input_file(ctx, params, params.get(kind), kind)
    message = post(ctx, chat, params, caption=caption, caption_entities=entities, **{kind: stored})
    return message.to_api()


async def send_media_group(ctx: Context, params: Params) -> list[JsonDict]:
    chat = writable_chat(ctx.world, params)
    media = params.json_value("media", "can't parse InputMedia JSON object")
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise bad_request("wrong number of media in the media group: it must be 2-10")
    items: list[tuple[str, StoredFile, str | None, Any]] = []
    for item in media:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in ("photo", "document"):
            raise bad_request("media group may hold only photos and documents here")
        stored = await input_file(ctx, params, item.get("media"), kind)
        caption, entities = formatted(Params(item), "caption", "caption_entities")
        check_caption(caption)
        items.append((kind, stored, caption, entities))
    reply_to = reply_target(chat, params)
    take_flood_token(ctx, chat)  # an album counts as one message for the emulator's limits
    group_id = str(10**17 + ctx.world.next_id("media_group"))
    messages = [
        ctx.world.add_message(
            chat,
            ctx.world.bot,
            outgoing=True,
            caption=caption,
            caption_entities=entities,
            reply_to=reply_to,
            media_group_id=group_id,
            silent=params.flag("disable_notification"),
            **{kind: stored},
        )
        for kind, stored, caption, entities in items
    ]
    return [message.to_api() for message in messages]


async def get_file(ctx: Context, params: Params) -> JsonDict:
    stored = ctx.world.files.get(params.text("file_id") or "")
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return stored.as_file()


async def input_file(ctx: Context, params: Params, value: Any, kind: str) -> StoredFile:
    """The file a call refers to: an upload, a known file_id, or an HTTP URL."""
    if isinstance(value, FileField):
        return store_upload(ctx.world, value, kind)
    if not value:
        raise bad_request(f"there is no {kind} in the request")
    if not isinstance(value, str):
        raise bad_request(errors.WRONG_FILE)
    if value.startswith("attach://"):
        upload = params.file(value.removeprefix("attach://"))
        if upload is None:
            raise bad_request(f"file {value} not found in the request")
        return store_upload(ctx.world, upload, kind)
    if value in ctx.world.files:
        return ctx.world.files[value]  # Telegram reuses the stored file as it is
    if value.startswith(("http://", "https://")):
        return await _download(ctx, value, kind)
    raise bad_request(errors.WRONG_FILE)


def store_upload(world: World, upload: FileField, kind: str) -> StoredFile:
    content = upload.file.read()
    return store_bytes(world, content, upload.filename, upload.content_type, kind)


def store_bytes(
    world: World, content: bytes, name: str | None, mime: str | None, kind: str
) -> StoredFile:
    if len(content) > MAX_UPLOAD:
        raise ENTITY_TOO_LARGE
    if not content:
        raise bad_request("file must be non-empty")
    if not mime or mime == "application/octet-stream":
        # Telegram decides the type from the file name, as aiogram sends no content type.
        mime = (mimetypes.guess_type(name)[0] if name else None) or "application/octet-stream"
    width = height = 0
    if kind == "photo":
        size = image_size(content)
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        width, height = size
        name, mime = None, None  # a photo is re-encoded by Telegram: no name, no type
    return world.store_file(content, name=name, mime=mime, kind=kind, width=width, height=height)


async def _download(ctx: Context, url: str, kind: str) -> StoredFile:
    if ctx.http is None:
        raise bad_request("failed to get HTTP URL content")
    try:
        async with ctx.http.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
            if response.status != 200:
                raise bad_request("failed to get HTTP URL content")
            content = await response.read()
            mime = response.content_type
    except (aiohttp.ClientError, TimeoutError) as error:
        raise bad_request("failed to get HTTP URL content") from error
    name = unquote(urlparse(url).path.rsplit("/", 1)[-1]) or None
    return store_bytes(ctx.world, content, name, mime, kind)


def image_size(content: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP image; None if it is none of them."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        width, height = struct.unpack(">II", content[16:24])
        return width, height
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        width, height = struct.unpack("<HH", content[6:10])
        return width, height
    if content.startswith(b"RIFF") and content[8:12] == b"WEBP":
        return 1, 1  # valid enough; the emulator does not decode WebP headers
    if content.startswith(b"\xff\xd8"):
        return _jpeg_size(content)
    return None


def _jpeg_size(content: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 9 < len(content):
        if content[position] != 0xFF:
            return None
        marker = content[position + 1]
        length = struct.unpack(">H", content[position + 2 : position + 4])[0]
        # SOF markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", content[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None


METHODS: dict[str, Handler] = {
    "sendDocument": send_document,
    "sendPhoto": send_photo,
    "sendMediaGroup": send_media_group,
    "getFile": get_file,
}
