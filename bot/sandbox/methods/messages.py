"""Sending, editing, deleting, copying and forwarding text messages; answering callbacks."""

from __future__ import annotations

from typing import Any

from bot.sandbox import errors
from bot.sandbox.errors import bad_request
from bot.sandbox.methods.context import (
    DELETE_WINDOW,
    Context,
    Handler,
    existing_message,
    find_chat,
    formatted,
    inline_markup,
    post,
    writable_chat,
)
from bot.sandbox.params import Params
from bot.sandbox.rules import MAX_CALLBACK_ANSWER, check_caption, check_text
from bot.sandbox.state import CallbackAnswer, SandboxMessage

JsonDict = dict[str, Any]


async def send_message(ctx: Context, params: Params) -> JsonDict:
    chat = writable_chat(ctx.world, params)
    text, entities = formatted(params, "text", "entities")
    check_text(text or "")
    return post(ctx, chat, params, text=text, entities=entities).to_api()


def _editable(ctx: Context, params: Params) -> SandboxMessage:
    if "inline_message_id" in params:
        # Inline messages live in other people's chats, which the emulator does not model.
        raise bad_request("MESSAGE_ID_INVALID")
    chat = find_chat(ctx.world, params)
    message = existing_message(chat, params, errors.EDIT_NOT_FOUND)
    if not message.outgoing:
        raise bad_request("message can't be edited")
    if chat.peer is not None and chat.peer.blocked:
        raise errors.forbidden(errors.BLOCKED)
    return message


def _apply_edit(ctx: Context, message: SandboxMessage, changes: JsonDict) -> JsonDict:
    """Apply an edit unless it changes nothing, which Telegram refuses."""
    current = {key: getattr(message, key) or None for key in changes}
    wanted = {key: value or None for key, value in changes.items()}
    if current == wanted:
        raise bad_request(errors.NOT_MODIFIED)
    for key, value in wanted.items():
        setattr(message, key, value)
    message.edit_date = ctx.world.now()
    ctx.world.notify()
    return message.to_api()


async def edit_message_text(ctx: Context, params: Params) -> JsonDict:
    message = _editable(ctx, params)
    text, entities = formatted(params, "text", "entities")
    check_text(text or "", editing=True)
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    # Telegram drops the inline keyboard when an edit does not repeat it.
    changes = {"text": text, "entities": entities, "reply_markup": inline_markup(params)}
    return _apply_edit(ctx, message, changes)


async def edit_message_caption(ctx: Context, params: Params) -> JsonDict:
    message = _editable(ctx, params)
    if message.document is None and message.photo is None:
        raise bad_request("there is no caption in the message to edit")
    caption, entities = formatted(params, "caption", "caption_entities")
    check_caption(caption)
    changes = {
        "caption": caption,
        "caption_entities": entities,
        "reply_markup": inline_markup(params),
    }
    return _apply_edit(ctx, message, changes)


async def edit_message_reply_markup(ctx: Context, params: Params) -> JsonDict:
    message = _editable(ctx, params)
    return _apply_edit(ctx, message, {"reply_markup": inline_markup(params)})


async def delete_message(ctx: Context, params: Params) -> bool:
    chat = find_chat(ctx.world, params)
    message = existing_message(chat, params, errors.DELETE_NOT_FOUND)
    if not chat.is_private and not message.outgoing and chat.bot_status != "administrator":
        # In groups a bot deletes others' messages only as an administrator.
        raise bad_request("message can't be deleted")
    if ctx.world.now() - message.date > DELETE_WINDOW.total_seconds():
        raise bad_request("message can't be deleted for everyone")
    message.deleted = True
    ctx.world.notify()
    return True


async def answer_callback_query(ctx: Context, params: Params) -> bool:
    query_id = params.text("callback_query_id")
    query = ctx.world.callbacks.get(query_id or "")
    # A callback query is answered once; an unknown id reads the same to Telegram.
    if query is None or query.answered:
        raise bad_request(errors.QUERY_TOO_OLD)
    text = params.text("text")
    if text is not None and len(text) > MAX_CALLBACK_ANSWER:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answer = CallbackAnswer(text, params.flag("show_alert"), params.text("url"))
    ctx.world.notify()
    return True


async def answer_inline_query(ctx: Context, params: Params) -> bool:
    """Inline mode: the results shown above the user's keyboard, kept for `choose_inline`."""
    query = ctx.world.inline_queries.get(params.text("inline_query_id") or "")
    if query is None or query.results is not None:
        raise bad_request(errors.QUERY_TOO_OLD)
    results = params.json_value("results", "can't parse inline query results JSON object")
    if not isinstance(results, list) or len(results) > 50:
        raise bad_request("RESULTS_TOO_MUCH")
    for result in results:
        if not isinstance(result, dict) or not result.get("id") or not result.get("type"):
            raise bad_request("RESULT_ID_INVALID")
    query.results = results
    ctx.world.notify()
    return True


def _source(ctx: Context, params: Params, not_found: str) -> SandboxMessage:
    source_chat = find_chat(ctx.world, params, "from_chat_id")
    message = existing_message(source_chat, params, not_found)
    if message.new_chat_members or message.left_chat_member or message.successful_payment:
        raise bad_request("message can't be copied")  # service messages
    return message


async def copy_message(ctx: Context, params: Params) -> JsonDict:
    source = _source(ctx, params, "message to copy not found")
    if source.invoice is not None:
        raise bad_request("message can't be copied")  # an invoice is the sending bot's own
    chat = writable_chat(ctx.world, params)
    caption, caption_entities = source.caption, source.caption_entities
    if "caption" in params:
        caption, caption_entities = formatted(params, "caption", "caption_entities")
        check_caption(caption)
    copy = post(
        ctx,
        chat,
        params,
        text=source.text,
        entities=source.entities,
        caption=caption,
        caption_entities=caption_entities,
        document=source.document,
        photo=source.photo,
    )
    return {"message_id": copy.message_id}


async def forward_message(ctx: Context, params: Params) -> JsonDict:
    source = _source(ctx, params, "message to forward not found")
    chat = writable_chat(ctx.world, params)
    copy = post(
        ctx,
        chat,
        Params({"disable_notification": params.get("disable_notification")}),
        text=source.text,
        entities=source.entities,
        caption=source.caption,
        caption_entities=source.caption_entities,
        document=source.document,
        photo=source.photo,
        forward_from=source.forward_from or source.sender,
        forward_date=source.forward_date or source.date,
    )
    return copy.to_api()


METHODS: dict[str, Handler] = {
    "sendMessage": send_message,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "answerCallbackQuery": answer_callback_query,
    "answerInlineQuery": answer_inline_query,
    "copyMessage": copy_message,
    "forwardMessage": forward_message,
}
