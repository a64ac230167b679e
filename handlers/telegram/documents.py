"""Documents in Telegram (E1-E3): the shop's templates from /settings, and an order's PDFs.

Templates: the owner or an admin picks a document and a language, downloads the template in
use (the default until the shop saves one), sends an edited file back, gets the exact reason
when it is refused, or a preview rendered on a sample order with "Save" and "Cancel"; the
previous version can be restored. Orders: staff get every document from the card's
"📄 Documents", the buyer their invoice from their card. Everything goes through
DocumentService, which decides who may do what.
"""

from __future__ import annotations

import io
import secrets

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.document_callbacks import DocAct, DocCB
from handlers.telegram.format import esc
from handlers.telegram.shop_settings import LANGUAGE_NAMES, back_button
from services.documents.defaults import KINDS
from services.documents.pdf import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_PAGES, MAX_PDF_BYTES
from services.documents.sandbox import (
    IMAGE_REFUSED,
    MAX_TEMPLATE,
    PDF_TOO_LARGE,
    TOO_BIG,
    TOO_MANY_PAGES,
    TOO_SLOW,
    TemplateProblem,
)
from services.documents.service import DocumentService, offered_kinds
from services.documents.variables import BANK_KEYS
from services.orders.actors import ActorRef
from services.orders.service import OrderService
from services.refusals import Reason, Refused
from services.shops.settings import ShopSettingsService
from services.shops.users import Person
from services.vocabulary import LANGUAGES

MAX_UPLOAD = 256 * 1024  # bytes of an uploaded template file (the text limit is tighter)


class TemplateEdit(StatesGroup):
    upload = State()  # waiting for the edited template file
    confirm = State()  # the preview is shown: save or cancel
    bank = State()  # typing the bank details


# -- words ----------------------------------------------------------------------------------


def kind_name(kind: str) -> str:
    return {
        "invoice": _("Invoice"),
        "waybill": _("Packing list"),
        "payment_slip": _("Bank payment slip"),
    }.get(kind, kind)


def problem_text(problem: TemplateProblem) -> str:
    """The exact reason, with its line: the shop fixes the file by it; a limit of the render
    workers or a refused image in the shop's own language."""
    reason = _limit_reasons().get(problem.code or "")
    if reason is not None:
        return reason
    if problem.line:
        return _("Line {line}: {message}").format(line=problem.line, message=esc(problem.message))
    return esc(problem.message)


def _limit_reasons() -> dict[str, str]:
    return {
        TOO_SLOW: _("the template takes too long to render."),
        TOO_BIG: _("the template needs too much memory to render."),
        TOO_MANY_PAGES: _("the document would have more than {count} pages.").format(
            count=MAX_PAGES
        ),
        PDF_TOO_LARGE: _("the PDF would be larger than {count} MB.").format(
            count=MAX_PDF_BYTES // (1024 * 1024)
        ),
        IMAGE_REFUSED: _(
            "images may only be embedded as data: URIs of a PNG, JPEG or GIF of up to "
            "{size} KB and {pixels} megapixels; files and web addresses are not read."
        ).format(size=MAX_IMAGE_BYTES // 1024, pixels=MAX_IMAGE_PIXELS // 1_000_000),
    }


# -- templates, from /settings ----------------------------------------------------------------


def templates_screen(shop_id: int) -> tuple[str, InlineKeyboardMarkup]:
    lines = [
        _("📄 <b>Documents</b>"),
        _(
            "Choose a document and a language to download its template, send an edited one "
            "back or restore the previous version. The variables are described in "
            "docs/documents.md."
        ),
    ]
    builder = InlineKeyboardBuilder()
    for kind in KINDS:
        builder.row(
            *(
                InlineKeyboardButton(
                    text=f"{kind_name(kind)} · {language.upper()}",
                    callback_data=DocCB(
                        act=DocAct.TEMPLATE, shop=shop_id, kind=kind, lang=language
                    ).pack(),
                )
                for language in LANGUAGES
            )
        )
    builder.row(
        InlineKeyboardButton(
            text=_("🏦 Bank details"),
            callback_data=DocCB(act=DocAct.BANK, shop=shop_id).pack(),
        )
    )
    builder.row(back_button(shop_id))
    return "\n".join(lines), builder.as_markup()


async def template_screen(
    documents: DocumentService, shop_id: int, user: Person, kind: str, language: str
) -> tuple[str, InlineKeyboardMarkup]:
    info = await documents.template(shop_id, user.id, kind, language)
    which = (
        _("the default template")
        if info.is_default
        else _("the shop's version {version}").format(version=info.version)
    )
    text = "\n".join(
        [
            _("📄 <b>{document}</b> · {language}").format(
                document=kind_name(kind), language=LANGUAGE_NAMES.get(language, language)
            ),
            _("In use: {which}.").format(which=which),
            "",
            _(
                "Download the template, edit it and send the file back here: I check it, "
                "show a preview on a sample order, and save it when you confirm."
            ),
        ]
    )
    builder = InlineKeyboardBuilder()
    builder.row(
        InlineKeyboardButton(
            text=_("⬇️ Download the template"),
            callback_data=DocCB(act=DocAct.DOWNLOAD, shop=shop_id, kind=kind, lang=language).pack(),
        )
    )
    if info.has_previous:
        builder.row(
            InlineKeyboardButton(
                text=_("↩️ Restore the previous version"),
                callback_data=DocCB(
                    act=DocAct.RESTORE, shop=shop_id, kind=kind, lang=language
                ).pack(),
            )
        )
    builder.row(
        InlineKeyboardButton(
            text=_("↩️ Back"), callback_data=DocCB(act=DocAct.TEMPLATES, shop=shop_id).pack()
        )
    )
    return text, builder.as_markup()


async def show_templates(
    query: CallbackQuery,
    callback_data: DocCB,
    user: Person,
    shop_settings: ShopSettingsService,
    state: FSMContext,
) -> None:
    await state.clear()
    view = await shop_settings.get(callback_data.shop, user.id)
    if not view.can_edit:
        raise Refused(Reason.FORBIDDEN, "documents are for the owner and admins")
    text, markup = templates_screen(callback_data.shop)
    await query.message.edit_text(text, reply_markup=markup)


async def show_template(
    query: CallbackQuery,
    callback_data: DocCB,
    user: Person,
    documents: DocumentService,
    state: FSMContext,
) -> None:
    shop_id, kind, language = callback_data.shop, callback_data.kind, callback_data.lang
    text, markup = await template_screen(documents, shop_id, user, kind, language)
    # What the person sends next is the new template of this document.
    await state.set_state(TemplateEdit.upload)
    await state.set_data({"shop_id": shop_id, "kind": kind, "language": language})
    if query.message.text is None:  # "Cancel" under a preview: a file has no text to edit
        await query.message.answer(text, reply_markup=markup)
    else:
        await query.message.edit_text(text, reply_markup=markup)


async def download_template(
    query: CallbackQuery, callback_data: DocCB, user: Person, documents: DocumentService
) -> None:
    info = await documents.template(
        callback_data.shop, user.id, callback_data.kind, callback_data.lang
    )
    name = f"{info.kind}-{info.language}.html"
    await query.message.answer_document(
        BufferedInputFile(info.body.encode("utf-8"), filename=name),
        caption=_("Edit this file and send it back to me as a file."),
    )


# Another file while a preview waits replaces it: the latest upload is what Save saves.
async def template_uploaded(
    message: Message, bot: Bot, user: Person, documents: DocumentService, state: FSMContext
) -> None:
    data = await state.get_data()
    shop_id, kind, language = data["shop_id"], data["kind"], data["language"]
    document = message.document
    if (document.file_size or 0) > MAX_UPLOAD:
        await message.answer(
            _("Not saved: the file is larger than {size} KB.").format(size=MAX_UPLOAD // 1024)
        )
        return
    buffer = io.BytesIO()
    await bot.download(document, destination=buffer)
    try:
        body = buffer.getvalue().decode("utf-8")
    except UnicodeDecodeError:
        await message.answer(_("Not saved: the file is not UTF-8 text."))
        return
    if len(body) > MAX_TEMPLATE:
        await message.answer(
            _("Not saved: the template is longer than {count} characters.").format(
                count=MAX_TEMPLATE
            )
        )
        return
    try:
        preview = await documents.preview(shop_id, user.id, kind, language, body)
    except TemplateProblem as problem:
        await message.answer(
            _("Not saved: {problem}\n\nFix the file and send it again.").format(
                problem=problem_text(problem)
            )
        )
        return
    # The preview's Save carries its number: an older preview's button saves nothing.
    preview_number = secrets.randbelow(2**31)
    await state.set_state(TemplateEdit.confirm)
    await state.update_data(body=body, preview=preview_number)
    await message.answer_document(
        BufferedInputFile(preview.pdf, filename=preview.name),
        caption=_("Preview on a sample order. Save this template?"),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("✅ Save"),
                        callback_data=DocCB(
                            act=DocAct.SAVE,
                            shop=shop_id,
                            kind=kind,
                            lang=language,
                            v=preview_number,
                        ).pack(),
                    ),
                    InlineKeyboardButton(
                        text=_("✖️ Cancel"),
                        callback_data=DocCB(
                            act=DocAct.TEMPLATE, shop=shop_id, kind=kind, lang=language
                        ).pack(),
                    ),
                ]
            ]
        ),
    )


# A reply to a relayed buyer message is the order's dialog, not an attempt at a template.
async def not_a_file(message: Message) -> None:
    await message.answer(_("Send the template as a file (a document), please."))


async def save_template(
    query: CallbackQuery,
    callback_data: DocCB,
    user: Person,
    documents: DocumentService,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    data = await state.get_data()
    shop_id, kind, language = callback_data.shop, callback_data.kind, callback_data.lang
    if await state.get_state() != TemplateEdit.confirm or (
        shop_id,
        kind,
        language,
        callback_data.v,
    ) != (data.get("shop_id"), data.get("kind"), data.get("language"), data.get("preview")):
        # An old preview's button: what it showed is no longer what would be saved.
        callback_answer.text = _("This preview is out of date: send the file again.")
        return
    try:
        info = await documents.save(shop_id, user.id, kind, language, data["body"])
    except TemplateProblem as problem:
        await state.clear()
        await query.message.answer(_("Not saved: {problem}").format(problem=problem_text(problem)))
        return
    await state.clear()
    callback_answer.text = _("Saved.")
    await query.message.answer(
        _(
            "✅ Saved: {document} ({language}), version {version}. The next documents use it."
        ).format(
            document=kind_name(info.kind), language=info.language.upper(), version=info.version
        )
    )
    text, markup = await template_screen(documents, shop_id, user, kind, language)
    await query.message.answer(text, reply_markup=markup)


async def restore_template(
    query: CallbackQuery,
    callback_data: DocCB,
    user: Person,
    documents: DocumentService,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    await state.clear()
    shop_id, kind, language = callback_data.shop, callback_data.kind, callback_data.lang
    info = await documents.restore_previous(shop_id, user.id, kind, language)
    callback_answer.text = (
        _("Restored: the default template.")
        if info.is_default
        else _("Restored: version {version}.").format(version=info.version)
    )
    text, markup = await template_screen(documents, shop_id, user, kind, language)
    await query.message.edit_text(text, reply_markup=markup)


# -- bank details ------------------------------------------------------------------------------


async def ask_bank_details(
    query: CallbackQuery,
    callback_data: DocCB,
    user: Person,
    documents: DocumentService,
    state: FSMContext,
) -> None:
    bank = await documents.bank_details(callback_data.shop, user.id)
    current = "\n".join(f"{key}: {esc(bank[key])}" for key in BANK_KEYS)
    await state.set_state(TemplateEdit.bank)
    await state.set_data({"shop_id": callback_data.shop})
    await query.message.edit_text(
        _(
            "🏦 <b>Bank details</b> for the invoice, the payment slip and its QR code. Send "
            "them as 'key: value' lines, like these:\n\n<code>{current}</code>\n\n"
            "recipient: the legal name; vat: none, or the rate in percent."
        ).format(current=current),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("↩️ Back"),
                        callback_data=DocCB(act=DocAct.TEMPLATES, shop=callback_data.shop).pack(),
                    )
                ]
            ]
        ),
    )


async def bank_details_typed(
    message: Message, user: Person, documents: DocumentService, state: FSMContext
) -> None:
    shop_id = (await state.get_data())["shop_id"]
    try:
        await documents.set_bank_details(shop_id, user.id, message.text)
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            await state.clear()
            raise
        await message.answer(_("Not saved: {problem}").format(problem=esc(refusal.message)))
        return
    await state.clear()
    text, markup = templates_screen(shop_id)
    await message.answer(_("✅ Bank details saved."))
    await message.answer(text, reply_markup=markup)


# -- an order's documents ------------------------------------------------------------------------


def order_documents_keyboard(
    order_id: int, version: int, kinds: tuple[str, ...] = KINDS
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for kind in kinds:
        builder.row(
            InlineKeyboardButton(
                text=f"📄 {kind_name(kind)}",
                callback_data=DocCB(act=DocAct.GET, id=order_id, kind=kind, v=version).pack(),
            )
        )
    return builder.as_markup()


async def order_documents(
    query: CallbackQuery, callback_data: DocCB, orders: OrderService, actor: ActorRef
):
    view = await orders.view(callback_data.id, actor)  # someone else's order: "not found"
    kinds = offered_kinds(view.shop, view.who.is_staff)
    markup = order_documents_keyboard(view.order.id, view.order.version, kinds)
    await query.message.answer(
        _("Documents of order #{number}:").format(number=view.order.number), reply_markup=markup
    )


async def send_document(
    query: CallbackQuery,
    callback_data: DocCB,
    documents: DocumentService,
    actor: ActorRef,
    i18n: I18n,
) -> None:
    language = i18n.current_locale if i18n.current_locale in LANGUAGES else LANGUAGES[0]
    document = await documents.for_order(callback_data.id, actor, callback_data.kind, language)
    await query.message.answer_document(BufferedInputFile(document.pdf, filename=document.name))


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(show_templates, DocCB.filter(F.act == DocAct.TEMPLATES))
    router.callback_query.register(show_template, DocCB.filter(F.act == DocAct.TEMPLATE))
    router.callback_query.register(download_template, DocCB.filter(F.act == DocAct.DOWNLOAD))
    router.message.register(
        template_uploaded, StateFilter(TemplateEdit.upload, TemplateEdit.confirm), F.document
    )
    router.message.register(not_a_file, TemplateEdit.upload, ~F.reply_to_message)
    router.callback_query.register(save_template, DocCB.filter(F.act == DocAct.SAVE))
    router.callback_query.register(restore_template, DocCB.filter(F.act == DocAct.RESTORE))
    router.callback_query.register(ask_bank_details, DocCB.filter(F.act == DocAct.BANK))
    router.message.register(
        bank_details_typed, TemplateEdit.bank, F.text & ~F.text.startswith("/"), ~F.reply_to_message
    )
    router.callback_query.register(order_documents, DocCB.filter(F.act == DocAct.ORDER))
    router.callback_query.register(send_document, DocCB.filter(F.act == DocAct.GET))
    return router
