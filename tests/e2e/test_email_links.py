"""One-click links in e-mails to buyers (D2), end to end: the HTTP server of the bot, the real
order service and database. GET only shows; POST acts once; every refusal changes nothing."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.container import Container, build_container
from bot.settings import Settings
from bot.web import build_web_app, start_web
from handlers.http.links.pages import link_url
from handlers.telegram.format import money
from services.messaging.email.links import DOWNLOAD_INVOICE, OPEN_IN_TELEGRAM, LinkSigner
from services.orders.actors import ActorRef, Channel
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft
from storage.models import Order, OrderEvent, OutboxMessage, Shop, UsedLink
from tests.factories import Shop as ShopWithStaff
from tests.factories import make_shop

SECRET = "links-test-secret"
BOT_USERNAME = "cats_shop_bot"


@dataclass
class Site:
    container: Container
    signer: LinkSigner
    client: TestClient

    def token(self, order: Order, action: str, *, buyer_id: int | None = None) -> str:
        buyer = order.buyer_id if buyer_id is None else buyer_id
        return self.signer.action_token(order.id, buyer, action, self.container.clock.now())

    async def get(self, token: str, **kwargs) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.client.get(f"/l/{token}", **kwargs) as response:
            return response.status, await response.text(), response

    async def post(self, token: str, form: dict | None = None) -> tuple[int, str]:
        async with self.client.post(f"/l/{token}", data=form or {}) as response:
            return response.status, await response.text()


async def _site(database_url, clock, bot_username):
    settings = Settings(_env_file=None, database_url=database_url, secret_key=SECRET)
    container = build_container(settings, clock=clock)
    signer = LinkSigner(SECRET)
    app = build_web_app(container, signer, bot_username=bot_username)
    # Pages without an order (a bad or expired link) follow the browser's language.
    client = TestClient(TestServer(app), headers={"Accept-Language": "en-GB,en;q=0.9"})
    await client.start_server()
    return Site(container, signer, client)


@pytest.fixture
async def site(database_url, engine, clock):
    # `engine` empties the PostgreSQL database first (a fresh SQLite file needs nothing).
    site = await _site(database_url, clock, BOT_USERNAME)
    try:
        yield site
    finally:
        await site.client.close()
        await site.container.close()


@pytest.fixture
async def site_without_bot(database_url, engine, clock):
    site = await _site(database_url, clock, None)
    try:
        yield site
    finally:
        await site.client.close()
        await site.container.close()


# -- arranging orders through the order service -------------------------------------------


async def new_order(
    site: Site,
    shop: ShopWithStaff,
    *,
    language: str | None = "en",
    phone: str = "+79161234567",
    email: str = "buyer@example.com",
    items: list[ItemDraft] | None = None,
) -> Order:
    draft = OrderDraft(
        buyer=BuyerDraft(name="Ivan Petrov", phone=phone, email=email, language=language),
        items=items or [ItemDraft("SKU-1", "Blue mug", 2, 10_000)],
        payment_method="card",
        delivery_method="post",
        delivery_address="Moscow, Tverskaya 1",
        delivery_cost=0,
    )
    [order] = await site.container.orders.create_orders(
        shop.id, draft, ActorRef.system(Channel.API), source="api"
    )
    return order


async def move(site: Site, shop: ShopWithStaff, order: Order, *steps: str) -> None:
    """The shop's staff take the marketplace steps: confirm, mark_paid, ship."""
    who = {"confirm": shop.manager, "mark_paid": shop.accountant, "ship": shop.packer}
    for step in steps:
        inputs = {"carrier": "CDEK", "track_code": "RA123456789RU"} if step == "ship" else {}
        await site.container.orders.apply(order.id, shop.as_user(who[step]), step, inputs)


async def shipped_order(site: Site, shop: ShopWithStaff, **kwargs) -> Order:
    order = await new_order(site, shop, **kwargs)
    await move(site, shop, order, "confirm", "mark_paid", "ship")
    return order


async def rename_shop(site: Site, shop: ShopWithStaff, name: str, language: str = "ru") -> None:
    async with site.container.sessions() as session, session.begin():
        row = await session.get(Shop, shop.id)
        row.name = name
        row.language = language


@dataclass(frozen=True)
class State:
    status: str
    version: int
    events: tuple[tuple[str, str, str], ...]  # action, actor kind, channel
    used_links: int
    outbox: int


async def state(site: Site, order_id: int) -> State:
    async with site.container.sessions() as session:
        order = await session.get(Order, order_id)
        events = (
            await session.scalars(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
            )
        ).all()
        used = await session.scalar(select(func.count()).select_from(UsedLink))
        outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
        return State(
            order.status,
            order.version,
            tuple((e.action, e.actor_kind, e.channel) for e in events),
            used,
            outbox,
        )


async def last_event(site: Site, order_id: int) -> OrderEvent:
    async with site.container.sessions() as session:
        return await session.scalar(
            select(OrderEvent)
            .where(OrderEvent.order_id == order_id)
            .order_by(OrderEvent.id.desc())
            .limit(1)
        )


# -- confirming receipt -------------------------------------------------------------------


async def test_get_shows_the_order_and_changes_nothing(site):
    shop = await make_shop(site.container)
    order = await shipped_order(site, shop)
    token = site.token(order, "confirm_receipt")
    before = await state(site, order.id)

    for _ in range(2):  # a mail scanner, then the buyer
        status, page, _response = await site.get(token)
        assert status == 200
        assert f"Confirm receipt of order #{order.number}?" in page
        assert "Shop marketplace" in page
        assert "Blue mug" in page and "× 2" in page
        assert money(20_000, "RUB", "en") in page
        assert "Shipped" in page  # the status, in the buyer's language
        assert '<form method="post">' in page
        assert '<button class="button" type="submit">Confirm</button>' in page

    assert await state(site, order.id) == before
    assert before.status == "shipped"


async def test_post_confirms_receipt_once(site):
    shop = await make_shop(site.container)
    order = await shipped_order(site, shop)
    token = site.token(order, "confirm_receipt")
    before = await state(site, order.id)

    status, page = await site.post(token)

    assert status == 200
    assert f"Order #{order.number}: Received" in page
    assert "Thank you!" in page
    after = await state(site, order.id)
    assert after.status == "received"
    assert after.events[len(before.events) :] == (("confirm_receipt", "buyer", "email"),)
    assert after.used_links == before.used_links + 1
    event = await last_event(site, order.id)
    assert (event.from_status, event.to_status, event.actor_user_id) == (
        "shipped",
        "received",
        None,
    )

    # The same link again: refused, nothing changes.
    status, page = await site.post(token)
    assert status == 409
    assert "This link has been used already" in page
    assert "Received" in page
    assert await state(site, order.id) == after
    # Opening it again says so too, without a form.
    status, page, _response = await site.get(token)
    assert status == 409
    assert "This link has been used already" in page
    assert "<form" not in page
    assert await state(site, order.id) == after


async def test_two_clicks_at_once_act_once(site):
    shop = await make_shop(site.container)
    order = await shipped_order(site, shop)
    token = site.token(order, "confirm_receipt")
    before = await state(site, order.id)

    results = await asyncio.gather(site.post(token), site.post(token))

    assert sorted(status for status, _page in results) == [200, 409]
    after = await state(site, order.id)
    assert after.status == "received"
    assert after.events[len(before.events) :] == (("confirm_receipt", "buyer", "email"),)


async def test_a_second_link_for_a_done_action_says_it_is_done(site):
    shop = await make_shop(site.container)
    order = await shipped_order(site, shop)
    first, second = site.token(order, "confirm_receipt"), site.token(order, "confirm_receipt")
    assert (await site.post(first))[0] == 200
    after = await state(site, order.id)

    status, page, _response = await site.get(second)
    assert status == 409
    assert "This has been done already: the order is now “Received”." in page
    assert "<form" not in page
    status, page = await site.post(second)
    assert status == 409
    assert "This has been done already" in page
    assert await state(site, order.id) == after


# -- links that do not work ---------------------------------------------------------------


async def test_a_changed_token_is_not_valid(site):
    shop = await make_shop(site.container)
    order = await shipped_order(site, shop)
    token = site.token(order, "confirm_receipt")
    changed = token[:3] + ("A" if token[3] != "A" else "B") + token[4:]
    before = await state(site, order.id)

    status, page, _response = await site.get(changed)
    assert status == 400
    assert "This link is not valid" in page
    assert (await site.post(changed))[0] == 400
    assert (await site.post("not-a-token"))[0] == 400
    assert (await site.post("x" * 300))[0] == 400

    assert await state(site, order.id) == before
    # The real link still works.
    assert (await site.post(token))[0] == 200


async def test_a_link_of_another_buyer_cannot_act_on_the_order(site):
    shop = await make_shop(site.container)
    order = await shipped_order(site, shop)
    other = await new_order(site, shop, phone="+79169876543", email="other@example.com")
    assert other.buyer_id != order.buyer_id
    forged = site.token(order, "confirm_receipt", buyer_id=other.buyer_id)
    before = await state(site, order.id)

    status, page, _response = await site.get(forged)
    assert status == 404
    assert "Order not found" in page
    assert "Blue mug" not in page  # nothing about the order
    status, page = await site.post(forged)
    assert status == 404

    assert await state(site, order.id) == before
    assert (await site.get(site.token(order, "confirm_receipt", buyer_id=10**9)))[0] == 404


async def test_a_link_to_no_order_is_not_found(site):
    token = site.signer.action_token(4242, 1, "confirm_receipt", site.container.clock.now())
    assert (await site.get(token))[0] == 404
    assert (await site.post(token))[0] == 404


async def test_an_expired_link_is_refused(site):
    shop = await make_shop(site.container)
    order = await shipped_order(site, shop)
    token = site.token(order, "confirm_receipt")
    site.container.clock.advance(timedelta(days=31))
    before = await state(site, order.id)

    status, page, _response = await site.get(token)
    assert status == 410
    assert "This link has expired" in page
    assert "Use the newest e-mail about your order, or open it in Telegram." in page
    status, page = await site.post(token)
    assert status == 410

    assert await state(site, order.id) == before
    assert before.status == "shipped"


# -- cancelling with a reason -------------------------------------------------------------


async def test_cancel_needs_a_reason_offered_to_buyers(site):
    shop = await make_shop(site.container)
    order = await new_order(site, shop)
    token = site.token(order, "cancel")
    before = await state(site, order.id)

    # The page offers the buyer's reasons, in the buyer's language, not the shop's.
    status, page, _response = await site.get(token)
    assert status == 200
    assert f"Cancel order #{order.number}?" in page
    for code, text in [
        ("changed_mind", "Changed my mind"),
        ("found_cheaper", "Found it cheaper"),
        ("other", "Other"),
    ]:
        assert f'name="reason" value="{code}"' in page
        assert text in page
    assert "out_of_stock" not in page and "cannot_reach_buyer" not in page
    assert 'name="comment"' in page
    # "Other" needs a comment: choosing it marks the comment required (CSS, no script)
    assert 'value="other" required data-needs-comment>' in page
    assert 'value="changed_mind" required>' in page
    assert '<span class="required">Comment (required for this reason)</span>' in page

    # Without a reason: the form again with the error, nothing changed.
    status, page = await site.post(token)
    assert status == 400
    assert "Please choose a reason." in page
    assert 'name="reason" value="changed_mind"' in page
    # A reason for staff only, or no reason at all.
    for reason in ("out_of_stock", "no_such_reason"):
        status, page = await site.post(token, {"reason": reason})
        assert status == 400
        assert "Please choose one of the reasons in the list." in page
    # "Other" needs a comment; the form keeps the choice.
    status, page = await site.post(token, {"reason": "other", "comment": "  "})
    assert status == 400
    assert "Please add a comment" in page
    assert 'value="other" required data-needs-comment checked' in page
    # ...and marks the comment required for it
    assert "Comment (required for this reason)" in page and "Comment (optional)" not in page
    assert '<textarea id="comment" name="comment" maxlength="1000" required>' in page
    # A comment too long.
    status, page = await site.post(token, {"reason": "other", "comment": "x" * 1001})
    assert status == 400
    assert "The comment is too long" in page
    assert await state(site, order.id) == before

    # With a reason: cancelled, the reason in the event.
    status, page = await site.post(token, {"reason": "changed_mind"})
    assert status == 200
    assert f"Order #{order.number}: Cancelled" in page
    after = await state(site, order.id)
    assert after.status == "cancelled"
    assert after.events[len(before.events) :] == (("cancel", "buyer", "email"),)
    event = await last_event(site, order.id)
    assert event.payload["inputs"] == {"reason": "changed_mind"}


async def test_cancel_with_other_keeps_the_comment(site):
    shop = await make_shop(site.container)
    order = await new_order(site, shop)
    await move(site, shop, order, "confirm")  # awaiting payment: the buyer may still cancel

    status, _page = await site.post(
        site.token(order, "cancel"), {"reason": "other", "comment": "Ordered twice by mistake"}
    )

    assert status == 200
    event = await last_event(site, order.id)
    assert (event.action, event.from_status, event.to_status) == (
        "cancel",
        "awaiting_payment",
        "cancelled",
    )
    assert event.payload["inputs"] == {"reason": "other", "comment": "Ordered twice by mistake"}
    assert event.comment == "Ordered twice by mistake"


async def test_an_action_the_order_has_moved_past_shows_no_form(site):
    shop = await make_shop(site.container)
    order = await new_order(site, shop)
    token = site.token(order, "cancel")
    await move(site, shop, order, "confirm", "mark_paid")  # paid: too late to cancel
    before = await state(site, order.id)

    status, page, _response = await site.get(token)
    assert status == 409
    assert "This is no longer possible: the order is now “Preparing for shipment”." in page
    assert "<form" not in page
    status, page = await site.post(token, {"reason": "changed_mind"})
    assert status == 409
    assert "no longer possible" in page

    assert await state(site, order.id) == before
    assert before.status == "preparing_shipment"


async def test_a_confirmation_before_shipping_is_refused(site):
    shop = await make_shop(site.container)
    order = await new_order(site, shop)
    token = site.token(order, "confirm_receipt")
    before = await state(site, order.id)

    assert (await site.get(token))[0] == 409
    assert (await site.post(token))[0] == 409
    assert await state(site, order.id) == before
    # The refusal did not use the link up: once shipped, it works.
    await move(site, shop, order, "confirm", "mark_paid", "ship")
    assert (await site.post(token))[0] == 200


async def test_a_too_large_form_is_refused(site):
    shop = await make_shop(site.container)
    order = await new_order(site, shop)
    before = await state(site, order.id)

    status, _page = await site.post(
        site.token(order, "cancel"), {"reason": "other", "comment": "x" * 70_000}
    )

    assert status == 413
    assert await state(site, order.id) == before


# -- open in Telegram ---------------------------------------------------------------------


async def test_the_invoice_link_gives_the_buyer_the_invoice_from_the_start(site):
    shop = await make_shop(site.container)
    order = await new_order(site, shop)  # just placed: not awaiting payment yet

    for _twice in range(2):  # read only: it works every time it is opened
        async with site.client.get(f"/l/{site.token(order, DOWNLOAD_INVOICE)}") as response:
            assert response.status == 200
            assert response.content_type == "application/pdf"
            assert (await response.read()).startswith(b"%PDF")
            disposition = response.headers["Content-Disposition"]
            assert f'filename="invoice-{order.number}.pdf"' in disposition

    # another buyer's link to this order gets no invoice
    other = await new_order(site, shop, phone="+79035550000", email="other@example.com")
    stolen = site.token(order, DOWNLOAD_INVOICE, buyer_id=other.buyer_id)
    status, _page, response = await site.get(stolen)
    assert status == 404 and response.content_type == "text/html"


async def test_open_in_telegram_leads_to_the_bot(site):
    shop = await make_shop(site.container)
    order = await new_order(site, shop)
    token = site.token(order, OPEN_IN_TELEGRAM)
    before = await state(site, order.id)

    status, page, _response = await site.get(token)

    assert status == 200
    assert f'href="https://t.me/{BOT_USERNAME}?start={order.buyer_token}"' in page
    assert "Open in Telegram" in page
    assert "<form" not in page
    assert (await site.post(token))[0] == 200  # nothing to do: the same page
    assert await state(site, order.id) == before


async def test_open_in_telegram_without_a_bot_says_so(site_without_bot):
    site = site_without_bot
    shop = await make_shop(site.container)
    order = await new_order(site, shop)

    status, page, _response = await site.get(site.token(order, OPEN_IN_TELEGRAM))

    assert status == 200
    assert "t.me" not in page
    assert order.buyer_token not in page
    assert "bot cannot be reached" in page


# -- the pages themselves -----------------------------------------------------------------


async def test_user_input_is_escaped(site):
    shop = await make_shop(site.container)
    await rename_shop(site, shop, "<b>Cats</b>")
    order = await shipped_order(
        site, shop, items=[ItemDraft("SKU-X", '<script>alert("x")</script>', 1, 5_000)]
    )

    status, page, _response = await site.get(site.token(order, "confirm_receipt"))

    assert status == 200
    assert "&lt;b&gt;Cats&lt;/b&gt;" in page
    assert "<b>Cats</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "<script" not in page


async def test_security_headers_on_every_page(site):
    shop = await make_shop(site.container)
    order = await shipped_order(site, shop)
    token = site.token(order, "confirm_receipt")

    for path_token in (token, "tampered." + token):
        _status, page, response = await site.get(path_token)
        headers = response.headers
        assert headers["Content-Type"].startswith("text/html")
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert '<meta name="robots" content="noindex, nofollow">' in page
        assert '<meta name="viewport"' in page


async def test_pages_speak_the_buyers_language_else_the_shops(site):
    shop = await make_shop(site.container)
    russian = await shipped_order(site, shop, language="ru")
    status, page, _response = await site.get(site.token(russian, "confirm_receipt"))
    assert status == 200
    assert '<html lang="ru">' in page
    assert "Отправлен" in page  # the workflow's title of "shipped" in Russian
    assert money(20_000, "RUB", "ru") in page

    await rename_shop(site, shop, "Котики", language="uk")
    unknown = await new_order(site, shop, language=None, phone="+79160000001", email="u@x.org")
    status, page, _response = await site.get(site.token(unknown, "cancel"))
    assert status == 200
    assert '<html lang="uk">' in page
    assert "Передумав" in page  # the reason's Ukrainian title


async def test_pages_without_an_order_follow_the_browser(site):
    status, page, _response = await site.get("nonsense", headers={"Accept-Language": "uk,en;q=0.5"})
    assert status == 400
    assert '<html lang="uk">' in page
    status, page, _response = await site.get(
        "nonsense", headers={"Accept-Language": "de, en;q=0.8"}
    )
    assert '<html lang="en">' in page


async def test_health_check(site):
    async with site.client.get("/healthz") as response:
        assert response.status == 200
        assert await response.text() == "ok"


async def test_start_web_serves_and_keeps_tokens_out_of_the_log(site, caplog):
    app = build_web_app(site.container, site.signer, bot_username=BOT_USERNAME)
    runner = await start_web(app, "127.0.0.1", 0)
    try:
        host, port = runner.addresses[0][:2]
        base = f"http://{host}:{port}"
        token = site.signer.action_token(1, 1, "confirm_receipt", site.container.clock.now())
        assert link_url(base + "/", token) == f"{base}/l/{token}"
        with caplog.at_level(logging.INFO, logger="aiohttp.access"):
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/healthz") as response:
                    assert (response.status, await response.text()) == (200, "ok")
                async with http.get(link_url(base, token)) as response:
                    assert response.status == 404
        logged = "\n".join(record.getMessage() for record in caplog.records)
        assert "/healthz" in logged and "/l/…" in logged
        assert token not in logged
    finally:
        await runner.cleanup()
