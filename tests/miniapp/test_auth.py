"""Who may use the Mini App's API: Telegram's signed initData, or a browser session opened
by a single-use link, and nobody else. Refused requests change nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.orders.actors import ActorRef
from tests.factories import add_user, bind_buyer, make_order, make_shop
from tests.miniapp.conftest import init_data, start_desk

GUARDED = ["/app/api/me", "/app/api/orders", "/app/api/board", "/app/ui/home", "/app/ui/table"]


@pytest.mark.parametrize("path", GUARDED)
async def test_without_initData_nothing_is_shown(desk, path):
    response = await desk.get(path)
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"


@pytest.mark.parametrize(
    "header",
    [
        lambda desk, user: {"Authorization": "tma " + init_data(user, token="999:OTHER")},
        lambda desk, user: {  # a day and a second old
            "Authorization": "tma "
            + init_data(
                user,
                auth_date=int(
                    (desk.container.clock.now() - timedelta(days=1, seconds=1)).timestamp()
                ),
            )
        },
        lambda desk, user: {"Authorization": "Bearer " + init_data(user)},  # not tma
        lambda desk, user: {"Authorization": "tma "},
        lambda desk, user: {"Authorization": "tma " + "a=b&" * 2000},
    ],
    ids=["forged", "stale", "scheme", "empty", "huge"],
)
async def test_forged_or_stale_initData_changes_nothing(desk, header):
    # given
    order = await make_order(desk.container, desk.shop)
    before = await desk.snapshot()
    forged = header(desk, desk.shop.owner)
    # when
    read = await desk.get("/app/api/orders", headers=forged)
    acted = await desk.post(
        f"/app/api/orders/{order.id}/actions", {"action": "confirm"}, headers=forged
    )
    # then
    assert (read.status, acted.status) == (401, 401)
    assert await desk.snapshot() == before


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["auth_date", "user", "hash", "query_id"]),
    value=st.text(max_size=60),
)
async def test_any_forged_initData_field_is_refused_over_http(desk, name, value):
    """Hypothesis: the owner's genuine initData with one field changed proves nobody."""
    from urllib.parse import parse_qsl, quote, urlencode

    if not (await desk.snapshot())[0]:  # one order, made by the first example
        await make_order(desk.container, desk.shop)
    genuine = desk.tma(desk.shop.owner)["Authorization"].removeprefix("tma ")
    fields = dict(parse_qsl(genuine, keep_blank_values=True))
    if fields.get(name) == value:
        return
    fields[name] = value
    forged = {"Authorization": "tma " + urlencode(fields, quote_via=quote)}
    before = await desk.snapshot()
    response = await desk.post(
        "/app/api/orders/bulk", {"ids": [1], "action": "confirm"}, headers=forged
    )
    assert response.status == 401
    assert await desk.snapshot() == before


async def test_staff_act_through_the_order_service_from_the_mini_app(desk):
    order = await make_order(desk.container, desk.shop)
    response = await desk.post(
        f"/app/api/orders/{order.id}/actions",
        {"action": "confirm", "version": order.version},
        desk.shop.manager,
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "awaiting_payment"
    history = await desk.container.orders.history(order.id, ActorRef.system())
    assert (history[-1].action, history[-1].channel, history[-1].actor_role) == (
        "confirm",
        "mini_app",
        "manager",
    )


async def test_a_role_that_may_not_act_is_refused_and_nothing_changes(desk):
    order = await make_order(desk.container, desk.shop)
    before = await desk.snapshot()
    response = await desk.post(
        f"/app/api/orders/{order.id}/actions", {"action": "confirm"}, desk.shop.packer
    )
    assert response.status == 403
    assert (await response.json())["error"] == "forbidden"
    assert await desk.snapshot() == before


async def test_a_stale_card_is_refused(desk):
    order = await make_order(desk.container, desk.shop)
    before = await desk.snapshot()
    response = await desk.post(
        f"/app/api/orders/{order.id}/actions",
        {"action": "confirm", "version": order.version + 1},
        desk.shop.owner,
    )
    assert response.status == 409 and (await response.json())["error"] == "stale"
    assert await desk.snapshot() == before


async def test_another_shops_order_is_not_found_and_nothing_changes(desk):
    # given: an order of this shop, and the owner of another shop
    order = await make_order(desk.container, desk.shop)
    other = await make_shop(desk.container, preset="platform")
    before = await desk.snapshot()
    owner = other.owner
    # when: they read and act on it every way the API has
    answers = [
        await desk.get(f"/app/api/orders/{order.id}", owner),
        await desk.get(f"/app/ui/orders/{order.id}", owner),
        await desk.get(f"/app/api/orders/{order.id}/documents/invoice", owner),
        await desk.post(f"/app/api/orders/{order.id}/actions", {"action": "confirm"}, owner),
        await desk.post(f"/app/api/orders/{order.id}/comments", {"text": "mine now"}, owner),
        await desk.post(f"/app/api/orders/{order.id}/messages", {"text": "hello"}, owner),
    ]
    bulk = await desk.post("/app/api/orders/bulk", {"ids": [order.id], "action": "confirm"}, owner)
    table = await desk.get("/app/api/orders?view=all", owner)
    # then: not found, as if it did not exist; their table has none of it
    assert [a.status for a in answers] == [404] * len(answers)
    assert (await bulk.json())["results"] == [{"id": order.id, "ok": False, "error": "not_found"}]
    assert (await table.json())["orders"] == []
    assert await desk.snapshot() == before


async def test_a_stranger_has_no_table_and_no_orders(desk):
    order = await make_order(desk.container, desk.shop)
    stranger = desk.shop.stranger
    assert (await desk.get("/app/api/orders", stranger)).status == 404
    assert (await desk.get("/app/api/board", stranger)).status == 404
    assert (await desk.get(f"/app/api/orders/{order.id}", stranger)).status == 404
    # a Telegram user the bot has never seen: known from now on, and still sees nothing
    assert (await desk.get("/app/api/orders", 777_000_111)).status == 404


async def test_a_buyer_sees_their_own_order_only(desk):
    mine = await make_order(desk.container, desk.shop)
    theirs = await make_order(desk.container, desk.shop, phone="+79035550000", email=None)
    await bind_buyer(desk.container, mine, desk.shop.buyer_user)
    buyer = desk.shop.buyer_user
    assert (await desk.get(f"/app/api/orders/{mine.id}", buyer)).status == 200
    assert (await desk.get(f"/app/api/orders/{theirs.id}", buyer)).status == 404
    assert (await desk.get("/app/api/orders", buyer)).status == 404  # the table is the shop's
    home = await desk.get("/app/ui/home", buyer)
    text = await home.text()
    assert f"/app/ui/orders/{mine.id}" in text and f"/app/ui/orders/{theirs.id}" not in text
    # the shop's tools are not the buyer's
    before = await desk.snapshot()
    comment = await desk.post(f"/app/api/orders/{mine.id}/comments", {"text": "x"}, buyer)
    assert comment.status == 403
    assert await desk.snapshot() == before


async def test_bad_bodies_are_refused_naming_the_field(desk):
    order = await make_order(desk.container, desk.shop)
    owner = desk.shop.owner
    cases = [
        ({"action": 5}, "action"),
        ({"action": "confirm", "version": "1"}, "version"),
        ({"action": "confirm", "inputs": {"comment": 5}}, "inputs"),
        ({"action": "confirm", "inputs": ["x"]}, "inputs"),
    ]
    for body, field in cases:
        response = await desk.post(f"/app/api/orders/{order.id}/actions", body, owner)
        assert response.status == 422, body
        assert (await response.json())["field"] == field
    not_json = await desk.client.post(
        f"/app/api/orders/{order.id}/actions", data="action=confirm", headers=desk.tma(owner)
    )
    assert not_json.status == 422
    for bad in ("abc", "0" * 12, "-1"):
        assert (await desk.get(f"/app/api/orders/{bad}", owner)).status == 404


# -- the desktop browser: a single-use link, a session cookie, CSRF on every change ----------


async def sign_in(desk, user) -> tuple[str, str]:
    """Open a fresh /web link as `user`: the session cookie's value and the page's CSRF token."""
    token = await desk.container.desk_login.issue_link(user.id)
    page = await desk.client.get(f"/app/login/{token}")
    assert page.status == 200
    signed = await desk.client.post(f"/app/login/{token}", allow_redirects=False)
    assert signed.status == 303 and signed.headers["Location"] == "/app/"
    cookie = signed.cookies["shopbot_desk"]
    shell = await desk.client.get("/app/")
    csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', await shell.text()).group(1)
    return cookie.value, csrf


async def test_the_login_link_works_once_and_sets_a_strict_cookie(desk):
    token = await desk.container.desk_login.issue_link(desk.shop.owner.id)
    first = await desk.client.post(f"/app/login/{token}", allow_redirects=False)
    assert first.status == 303
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/app" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http here
    me = await desk.client.get("/app/api/me")
    assert me.status == 200 and (await me.json())["via"] == "browser"
    # the same link again, from another browser
    desk.client.session.cookie_jar.clear()
    again = await desk.client.post(f"/app/login/{token}", allow_redirects=False)
    shown = await desk.client.get(f"/app/login/{token}")
    assert (again.status, shown.status) == (410, 410)
    assert (await desk.client.get("/app/api/me")).status == 401


async def test_a_login_link_expires_after_ten_minutes(desk):
    token = await desk.container.desk_login.issue_link(desk.shop.owner.id)
    desk.container.clock.advance(timedelta(minutes=10, seconds=1))
    assert (await desk.client.get(f"/app/login/{token}")).status == 410
    assert (await desk.client.post(f"/app/login/{token}", allow_redirects=False)).status == 410


@pytest.mark.parametrize("token", ["x", "a" * 43, "a" * 500, "%00"])
async def test_a_made_up_login_link_signs_nobody_in(desk, token):
    assert (await desk.client.get(f"/app/login/{token}")).status == 410
    assert (await desk.client.post(f"/app/login/{token}", allow_redirects=False)).status == 410


async def test_a_login_posted_from_another_site_is_refused(desk):
    token = await desk.container.desk_login.issue_link(desk.shop.owner.id)
    response = await desk.client.post(
        f"/app/login/{token}", headers={"Origin": "https://evil.example"}, allow_redirects=False
    )
    assert response.status == 403
    # the link was not spent
    assert (await desk.client.post(f"/app/login/{token}", allow_redirects=False)).status == 303


async def test_a_browser_change_needs_its_csrf_token(desk):
    order = await make_order(desk.container, desk.shop)
    _cookie, csrf = await sign_in(desk, desk.shop.owner)
    before = await desk.snapshot()
    path = f"/app/api/orders/{order.id}/actions"
    missing = await desk.post(path, {"action": "confirm"})
    wrong = await desk.post(path, {"action": "confirm"}, headers={"X-CSRF-Token": "0" * 64})
    other_site = await desk.post(
        path,
        {"action": "confirm"},
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert (missing.status, wrong.status, other_site.status) == (403, 403, 403)
    assert await desk.snapshot() == before
    # with it, from our own page
    done = await desk.post(
        path,
        {"action": "confirm"},
        headers={"X-CSRF-Token": csrf, "Origin": "http://127.0.0.1:8080"},
    )
    assert done.status == 200


async def test_signing_out_ends_the_session(desk):
    _cookie, csrf = await sign_in(desk, desk.shop.owner)
    assert (await desk.client.post("/app/logout")).status == 403  # without the token
    assert (await desk.client.get("/app/api/me")).status == 200
    out = await desk.client.post("/app/logout", headers={"X-CSRF-Token": csrf})
    assert out.status == 200
    assert (await desk.client.get("/app/api/me")).status == 401


async def test_sessions_end_after_a_week(desk):
    await sign_in(desk, desk.shop.owner)
    desk.container.clock.advance(timedelta(days=7, seconds=1))
    assert (await desk.client.get("/app/api/me")).status == 401


async def test_over_https_the_cookie_is_secure(database_url, engine, clock):
    container, client = await start_desk(database_url, clock, public_url="https://shop.example")
    try:
        user = await add_user(container, 4242)
        token = await container.desk_login.issue_link(user.id)
        response = await client.post(f"/app/login/{token}", allow_redirects=False)
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        await client.close()
        await container.close()
