"""The Mini App in a real browser (Chromium through Selenium), as a shop owner uses it inside
Telegram (signed initData in the URL fragment) and from a desktop browser (the /web link):
the table's filters, dragging a card on the board, a drop the board refuses, the sign-in
link working once."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from bot.web import build_mini_app, build_web_app, start_web
from services.messaging.email.links import LinkSigner
from services.orders.actors import ActorRef
from storage.models import Order
from tests.factories import item, make_order, make_shop
from tests.miniapp.browser import Browser, free_port, launch_url, needs_browser
from tests.miniapp.conftest import BOT_TOKEN, start_desk

pytestmark = needs_browser


@pytest.fixture
async def site(database_url, engine, clock):
    """The bot's web server on a real port, and a browser; PUBLIC_URL is that address."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    container, client = await start_desk(database_url, clock, public_url=base)
    await client.close()  # the test client's server is not the one the browser sees
    app = build_web_app(
        container, LinkSigner("x"), bot_username="b", subapps={"/app": build_mini_app(container)}
    )
    runner = await start_web(app, "127.0.0.1", port)
    browser = await _browser()
    try:
        yield base, container, browser
    finally:
        browser.close()
        await runner.cleanup()
        await container.close()


async def _browser() -> Browser:
    import asyncio

    return await asyncio.get_running_loop().run_in_executor(None, Browser)


def rows(driver) -> list[str]:
    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#orders tbody tr[data-order]")]


async def status_of(container, order_id: int) -> tuple[str, int]:
    async with container.sessions() as session:
        order = await session.get(Order, order_id)
        return order.status, order.version


async def test_table_filters(site):
    base, container, browser = site
    # given: three orders; one paid in cash, one with another phone
    shop = await make_shop(container)
    first = await make_order(container, shop, item("CAT-BED", 1, 150_000))
    second = await make_order(
        container, shop, item("BOWL", 2, 30_000), phone="+79035550011", email="anna@example.com"
    )
    third = await make_order(
        container, shop, item("TOY", 1, 5_000), payment="cash", phone="+79035550022", email=None
    )
    now = int(container.clock.now().timestamp())
    await browser.do(lambda d: d.get(launch_url(base, BOT_TOKEN, shop.owner.telegram_id, now)))
    await browser.until(lambda d: len(rows(d)) == 3)

    # when: searching by the second buyer's phone
    async def search(text: str) -> None:
        def step(d):
            box = d.find_element(By.NAME, "q")
            box.clear()
            box.send_keys(text)
            d.find_element(By.CSS_SELECTOR, "form[data-filters] button[type=submit]").click()

        await browser.do(step)

    await search("9035550011")
    # then: only that order is left
    await browser.until(lambda d: len(rows(d)) == 1 and f"#{second.number}" in rows(d)[0])

    # when: an SKU
    await search("cat-bed")
    await browser.until(lambda d: len(rows(d)) == 1 and f"#{first.number}" in rows(d)[0])

    # when: no search, payment "cash" in the filters
    await search("")
    await browser.until(lambda d: len(rows(d)) == 3)

    def cash(d):
        d.find_element(By.CSS_SELECTOR, "details.more-filters summary").click()
        d.find_element(By.CSS_SELECTOR, "select[name=payment] option[value=cash]").click()
        d.find_element(By.CSS_SELECTOR, "form[data-filters] button[type=submit]").click()

    await browser.do(cash)
    await browser.until(lambda d: len(rows(d)) == 1 and f"#{third.number}" in rows(d)[0])


def drag(driver, card_id: int, status: str) -> None:
    grip = driver.find_element(By.CSS_SELECTOR, f"[data-card='{card_id}'] .grip")
    column = driver.find_element(By.CSS_SELECTOR, f"[data-column='{status}'] h2")
    driver.execute_script("arguments[0].scrollIntoView({inline: 'center'})", column)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", grip)
    ActionChains(driver).click_and_hold(grip).move_by_offset(10, 10).move_to_element(
        column
    ).release().perform()


async def test_board_drag_applies_a_transition_and_a_refused_drop_changes_nothing(site):
    base, container, browser = site
    shop = await make_shop(container)
    order = await make_order(container, shop)
    other = await make_order(container, shop)
    now = int(container.clock.now().timestamp())
    # a wide window: every column of the board is on screen
    await browser.do(lambda d: d.set_window_size(1600, 900))
    await browser.do(lambda d: d.get(launch_url(base, BOT_TOKEN, shop.owner.telegram_id, now)))
    await browser.until(lambda d: rows(d))
    await browser.do(lambda d: d.find_element(By.CSS_SELECTOR, "a[href='/app/ui/board']").click())
    await browser.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"[data-card='{order.id}']"))

    # when: the card is dropped on "awaiting payment" (the owner may confirm)
    await browser.do(lambda d: drag(d, order.id, "awaiting_payment"))
    # then: the order was confirmed, through the service, from the Mini App
    await browser.until(
        lambda d: d.find_elements(
            By.CSS_SELECTOR, f"[data-column='awaiting_payment'] [data-card='{order.id}']"
        )
    )
    assert (await status_of(container, order.id))[0] == "awaiting_payment"
    history = await container.orders.history(order.id, ActorRef.system())
    assert history[-1].action == "confirm" and history[-1].channel == "mini_app"

    # when: the other card is dropped on "shipped", which no action reaches from its status
    before = await status_of(container, other.id)
    await browser.do(lambda d: drag(d, other.id, "shipped"))
    # then: the board says no, the card stays, the order is as it was
    toast = await browser.until(
        lambda d: (t := d.find_element(By.ID, "toast")).is_displayed() and t.text
    )
    assert "cannot move" in toast
    assert await status_of(container, other.id) == before
    assert await browser.do(
        lambda d: d.find_elements(
            By.CSS_SELECTOR, f"[data-column='awaiting_confirmation'] [data-card='{other.id}']"
        )
    )

    # when: dropped on "cancelled": the step needs a reason, so a small form asks for it
    await browser.do(lambda d: drag(d, other.id, "cancelled"))
    await browser.until(lambda d: d.find_element(By.ID, "move-form").is_displayed())
    assert await status_of(container, other.id) == before  # nothing yet

    def choose(d):
        d.find_element(By.CSS_SELECTOR, "#move-reason option[value='out_of_stock']").click()
        d.find_element(By.ID, "move-comment").send_keys("sold out")
        d.find_element(By.ID, "move-ok").click()

    await browser.do(choose)
    # then: cancelled with that reason and comment
    await browser.until(
        lambda d: (
            d.find_elements(By.CSS_SELECTOR, f"[data-column='cancelled'] [data-card='{other.id}']")
            or not d.find_elements(By.CSS_SELECTOR, f"[data-card='{other.id}']")
        )
    )
    assert (await status_of(container, other.id))[0] == "cancelled"
    history = await container.orders.history(other.id, ActorRef.system())
    assert history[-1].payload["inputs"] == {"reason": "out_of_stock", "comment": "sold out"}


async def test_login_link_works_once(site):
    base, container, browser = site
    shop = await make_shop(container)
    await make_order(container, shop)
    token = await container.desk_login.issue_link(shop.owner.id)
    link = f"{base}/app/login/{token}"

    # when: the link is opened in a desktop browser and "Sign in" pressed
    await browser.do(lambda d: d.get(link))
    await browser.do(lambda d: d.find_element(By.ID, "sign-in").click())
    # then: the browser is signed in and shows the owner's table
    await browser.until(lambda d: len(rows(d)) == 1)
    cookies = await browser.do(lambda d: d.get_cookies())
    session = next(c for c in cookies if c["name"] == "shopbot_desk")
    assert session["httpOnly"] and session["sameSite"] == "Strict"

    # when: the same link is opened again (in a fresh browser: no session to fall back on)
    await browser.do(lambda d: d.delete_all_cookies())
    await browser.do(lambda d: d.get(link))
    # then: it no longer works
    heading = await browser.do(lambda d: d.find_element(By.TAG_NAME, "h1").text)
    assert heading == "This link no longer works"
    assert not await browser.do(lambda d: d.find_elements(By.ID, "sign-in"))
    await browser.do(lambda d: d.get(f"{base}/app/"))
    await browser.until(lambda d: "Open the app from Telegram" in d.page_source)


async def test_workflow_drag_reorders_the_draft(site):
    base, container, browser = site
    shop = await make_shop(container)
    now = int(container.clock.now().timestamp())
    await browser.do(lambda d: d.set_window_size(1200, 1400))
    await browser.do(lambda d: d.get(launch_url(base, BOT_TOKEN, shop.owner.telegram_id, now)))
    await browser.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a[href^='/app/ui/workflow']"))
    await browser.do(
        lambda d: d.find_element(By.CSS_SELECTOR, "a[href^='/app/ui/workflow']").click()
    )
    await browser.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#wf-statuses [data-status]"))

    def order(d) -> list[str]:
        items = d.find_elements(By.CSS_SELECTOR, "#wf-statuses [data-status]")
        return [i.get_attribute("data-status") for i in items]

    # when: "in_progress" is dragged by its grip onto "preparing_shipment"
    def drag_status(d):
        grip = d.find_element(By.CSS_SELECTOR, "[data-status='in_progress'] .grip")
        target = d.find_element(By.CSS_SELECTOR, "[data-status='preparing_shipment'] summary")
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", grip)
        ActionChains(d).click_and_hold(grip).move_by_offset(5, 5).move_to_element(
            target
        ).release().perform()

    await browser.do(drag_status)
    # then: the page shows the draft in the new order, kept by the editing service
    await browser.until(lambda d: order(d)[3:5] == ["in_progress", "preparing_shipment"])
    draft = await container.workflow_editor.draft(shop.id, shop.owner.id)
    assert [s["code"] for s in draft.body["statuses"]][3:5] == ["in_progress", "preparing_shipment"]
    assert draft.changed and draft.current_version == 1  # saved only when asked
