"""`make demo` keeps working: both stories play to the end through the bot."""

from __future__ import annotations

import pytest

from bot.demo import play


@pytest.mark.parametrize("preset", ["marketplace", "platform"])
async def test_the_demo_plays_to_the_end(preset):
    # when the demo plays (Telegram's flood limits off: the same steps, without the waits)
    transcript = await play(preset, flood_limits=False)
    # then every chat is printed and the buyer saw the order through to the end
    assert "Ivan (buyer)" in transcript and "Staff group" in transcript
    # the taps are shown, in the people's own languages, and so is time passing
    assert "▶ Max taps «" in transcript
    assert "▶ Olga taps «🏪 Create a shop»" in transcript
    # Russian goods for the Russian buyer
    assert "Домик-когтеточка" in transcript or "Дубовый стул" in transcript
    if preset == "marketplace":
        assert "RA123456789RU" in transcript  # the buyer got the track code
        assert "💳 Order #1: the buyer paid" in transcript  # paid with "Pay", no staff tap
        assert "Оплатил картой" in transcript  # the dialog, buyer to shop...
        assert "Payment received, we ship today" in transcript  # ...and back
        assert "⏰ Заказ #2 в магазине «Cats & Dogs» ждёт оплаты" in transcript  # 2 days on
        assert "Заказ #2 в магазине «Cats & Dogs»: Не оплачен" in transcript  # 3 days on
        assert "— 2 days later —" in transcript and "— 1 day later —" in transcript
        assert "▶ Max taps «Confirm and bill»" in transcript
        assert "▶ Ivan taps «💳 Как оплатить»" in transcript
    else:
        assert "Anna (buyer)" in transcript
        assert "Отменено" in transcript or "Скасовано" in transcript
        alert = "⚠️ Order #3 is past its time limit in “Requires agreement with the buyer”."
        assert transcript.count(alert) == 2  # Olga (owner) and Max (the responsible manager)
