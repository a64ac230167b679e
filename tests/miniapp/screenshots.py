"""The screenshots in docs/ (README "The Mini App"): a shop with a few days of orders, opened
in headless Chromium at a phone's width as Telegram would open it, in a dark theme.

    .venv/bin/python -m tests.miniapp.screenshots
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from selenium.webdriver.common.by import By

from bot.container import build_container
from bot.settings import Settings
from bot.web import build_mini_app, build_web_app, start_web
from services.messaging.email.links import LinkSigner
from services.orders.actors import ActorRef
from services.orders.drafts import ItemDraft
from services.time.clock import FrozenClock
from storage.migrate import upgrade_async
from tests.factories import make_order, make_shop
from tests.miniapp.browser import Browser, free_port, launch_url

DOCS = Path(__file__).resolve().parents[2] / "docs"
TOKEN = "1:SCREENSHOTS"
# Telegram's dark theme, as its clients pass themeParams.
DARK = {
    "bg_color": "#17212b",
    "secondary_bg_color": "#232e3c",
    "text_color": "#f5f5f5",
    "hint_color": "#708499",
    "link_color": "#6ab3f3",
    "button_color": "#5288c1",
    "button_text_color": "#ffffff",
}
GOODS = [
    ("CAT-BED", "Cat bed", 150_000),
    ("BOWL", "Bowl", 29_900),
    ("TOY-MOUSE", "Toy mouse", 4_900),
]
BUYERS = ["Ivan Petrov", "Anna Smirnova", "Oleg Ivanov", "Maria Kuznetsova", "Petr Sidorov"]


async def main() -> None:
    directory = tempfile.mkdtemp(prefix="shopbot_screens_")
    port = free_port()
    url = f"sqlite+aiosqlite:///{directory}/screens.db"
    await upgrade_async(url)
    clock = FrozenClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    settings = Settings(
        _env_file=None, database_url=url, bot_token=TOKEN, public_url=f"http://127.0.0.1:{port}"
    )
    container = build_container(settings, clock=clock)
    shop = await make_shop(container)
    owner = ActorRef.user(shop.owner.id)
    from sqlalchemy import update

    from storage.models import Buyer, Shop

    async with container.sessions() as session, session.begin():
        await session.execute(update(Shop).where(Shop.id == shop.id).values(name="Cats & Dogs"))
    for n in range(18):
        sku, name, price = GOODS[n % 3]
        order = await make_order(
            container,
            shop,
            ItemDraft(sku=sku, name=name, quantity=1 + n % 2, unit_price=price),
            phone=f"+7916555{n:04d}",
            email=None,
            payment="cash" if n % 5 == 0 else "card",
        )
        async with container.sessions() as session, session.begin():
            await session.execute(
                update(Buyer).where(Buyer.id == order.buyer_id).values(name=BUYERS[n % 5])
            )
        if n % 3 != 0:
            await container.orders.apply(order.id, owner, "confirm")
        if n % 4 == 1 and n % 3 != 0:
            await container.orders.apply(order.id, owner, "mark_paid")
        if n == 4:
            await container.orders.apply(order.id, owner, "cancel", {"reason": "out_of_stock"})
        clock.advance(timedelta(hours=5))
    app = build_web_app(
        container, LinkSigner("x"), bot_username="b", subapps={"/app": build_mini_app(container)}
    )
    runner = await start_web(app, "127.0.0.1", port)
    browser = await asyncio.get_running_loop().run_in_executor(None, Browser)
    base = f"http://127.0.0.1:{port}"
    now = int(clock.now().timestamp())
    try:
        await browser.do(
            lambda d: d.get(launch_url(base, TOKEN, shop.owner.telegram_id, now, DARK))
        )
        await browser.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#orders tbody tr"))
        await browser.do(lambda d: d.save_screenshot(str(DOCS / "mini-app-table.png")))
        for view, wait in (("board", "[data-card]"), ("numbers", "svg.chart")):
            await browser.do(
                lambda d, v=view: d.find_element(By.CSS_SELECTOR, f"a[href='/app/ui/{v}']").click()
            )
            await browser.until(lambda d, w=wait: d.find_elements(By.CSS_SELECTOR, w))
            await browser.do(lambda d, v=view: d.save_screenshot(str(DOCS / f"mini-app-{v}.png")))
        await browser.do(
            lambda d: d.find_element(By.CSS_SELECTOR, "a[href='/app/ui/board']").click()
        )
        await browser.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-card] a"))
        await browser.do(lambda d: d.find_element(By.CSS_SELECTOR, "[data-card] a").click())
        await browser.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-order-page]"))
        await browser.do(lambda d: d.save_screenshot(str(DOCS / "mini-app-order.png")))
    finally:
        browser.close()
        await runner.cleanup()
        await container.close()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
