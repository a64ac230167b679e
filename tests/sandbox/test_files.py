"""Files both ways: uploads are kept with their bytes and downloadable through getFile."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile

from bot.sandbox import SandboxUser, TelegramEmulator
from tests.images import png

INVOICE = b"%PDF-1.4 invoice for order 42"


@pytest.fixture
def ivan(telegram: TelegramEmulator) -> SandboxUser:
    user = telegram.user("Ivan")
    telegram.start_bot(user)
    return user


async def test_a_document_the_bot_uploads_is_kept_and_downloadable(
    telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser
) -> None:
    # when
    sent = await bot.send_document(
        ivan.id, BufferedInputFile(INVOICE, filename="invoice-42.pdf"), caption="Your invoice"
    )
    # then the message describes the file as Telegram would
    document = sent.document
    assert document is not None
    assert (document.file_name, document.mime_type, document.file_size) == (
        "invoice-42.pdf",
        "application/pdf",
        len(INVOICE),
    )
    assert telegram.files[document.file_id].content == INVOICE
    assert telegram.last(ivan).caption == "Your invoice"
    # and it downloads through getFile and the file route
    file = await bot.get_file(document.file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == INVOICE


async def test_a_known_file_id_is_sent_again_without_uploading(
    telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser
) -> None:
    first = await bot.send_document(ivan.id, BufferedInputFile(INVOICE, filename="a.pdf"))
    assert first.document is not None

    again = await bot.send_document(ivan.id, first.document.file_id)

    assert again.document is not None and again.document.file_id == first.document.file_id
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_document(ivan.id, "no-such-file")


async def test_a_document_from_a_user_reaches_the_bot(
    telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser
) -> None:
    telegram.send_document(ivan, "waybill.pdf", INVOICE, caption="/waybill 42")

    updates = await bot.get_updates()
    message = updates[-1].message
    assert message is not None and message.document is not None
    assert message.caption == "/waybill 42"
    assert message.document.file_name == "waybill.pdf"
    downloaded = await bot.download(message.document)
    assert downloaded is not None and downloaded.read() == INVOICE


async def test_photos_must_be_images(bot: Bot, ivan: SandboxUser) -> None:
    photo = await bot.send_photo(ivan.id, BufferedInputFile(png(640, 480), filename="p.png"))

    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(ivan.id, BufferedInputFile(b"not an image", filename="x.png"))
    assert photo.photo is not None and (photo.photo[-1].width, photo.photo[-1].height) == (
        640,
        480,
    )


async def test_caption_limit(bot: Bot, ivan: SandboxUser) -> None:
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(
            ivan.id, BufferedInputFile(INVOICE, filename="a.pdf"), caption="x" * 1025
        )


async def test_an_album_of_documents(
    telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser
) -> None:
    from aiogram.types import InputMediaDocument

    album = [
        InputMediaDocument(media=BufferedInputFile(INVOICE, filename=f"part-{n}.pdf"))
        for n in (1, 2)
    ]

    sent = await bot.send_media_group(ivan.id, album)

    assert [message.document.file_name for message in sent if message.document] == [
        "part-1.pdf",
        "part-2.pdf",
    ]
    assert sent[0].media_group_id == sent[1].media_group_id is not None
    assert (
        telegram.transcript(ivan)
        .splitlines()[-1]
        .endswith(f"Bot: [document part-2.pdf, {len(INVOICE)} bytes]")
    )


async def test_editing_a_caption(telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser) -> None:
    sent = await bot.send_document(
        ivan.id, BufferedInputFile(INVOICE, filename="a.pdf"), caption="Invoice"
    )

    await bot.edit_message_caption(
        chat_id=ivan.id, message_id=sent.message_id, caption="Invoice (paid)"
    )

    assert telegram.last(ivan).caption == "Invoice (paid)"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_caption(
            chat_id=ivan.id, message_id=sent.message_id, caption="Invoice (paid)"
        )
