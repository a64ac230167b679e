"""What a storefront request keeps per process (issue 15): the token's shop and the shop's
current workflow version. A change made in this process takes effect at once; another
instance (a second container over the same database) sees it within the TTL, moved on the
injected clock."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from services.operations.shops import ShopOperations
from services.storefront.tokens import TOKEN_TTL, known_tokens
from services.workflow.store import CURRENT_TTL
from storage.models import Order, WorkflowDefinition
from tests.api.conftest import ORDER, order_body, start_api


async def newest_version(api) -> int:
    async with api.container.sessions() as session:
        return await session.scalar(
            select(func.max(WorkflowDefinition.id)).where(WorkflowDefinition.shop_id == api.shop_id)
        )


async def workflow_of(api, number: int) -> int:
    async with api.container.sessions() as session:
        return await session.scalar(
            select(Order.workflow_id).where(Order.shop_id == api.shop_id, Order.number == number)
        )


async def storefront_token(api):
    """The token the tests' storefront uses (the shop has its first one besides)."""
    [info] = [info for info in await api.tokens.list(api.shop_id) if info.name == "storefront"]
    return info


async def second_instance(api, database_url):
    """Another process of the bot over the same database: its own engine, so its own caches."""
    return await start_api(database_url, api.container.clock, shop=api.shop)


async def test_a_revoked_token_is_refused_at_once_in_this_process(api):
    # given a token the API has just accepted (and so keeps)
    assert (await api.get(1))[0] == 404
    info = await storefront_token(api)
    # when it is revoked through another service object of this process
    await api.tokens.revoke(api.shop_id, info.id)
    # then the very next request is refused, with no time passing
    assert (await api.get(1))[0] == 401


async def test_a_rotated_token_works_at_once_and_the_old_one_stops(api):
    # given the storefront's token in use
    assert (await api.get(1))[0] == 404
    old = await storefront_token(api)
    # when the shop makes a new one and revokes the old
    new = await api.tokens.create(api.shop_id, "rotated")
    await api.tokens.revoke(api.shop_id, old.id)
    # then the new one works and the old one is refused at once
    assert (await api.get(1, token=new.token))[0] == 404
    assert (await api.get(1))[0] == 401


async def test_suspending_and_resuming_the_shop_takes_effect_at_once(api):
    assert (await api.post(ORDER, key="k-1"))[0] == 201
    operations = ShopOperations(api.container.sessions, api.container.clock)
    await operations.suspend(api.shop_id, "unpaid")
    status, body, _ = await api.post(order_body(external_id="web-2"), key="k-2")
    assert (status, body["error"]["code"]) == (403, "shop_suspended")
    await operations.resume(api.shop_id)
    assert (await api.post(order_body(external_id="web-2"), key="k-2"))[0] == 201


async def test_a_currency_change_reaches_the_api_at_once(api):
    assert (await api.post(ORDER))[0] == 201
    await api.container.shop_settings.update(api.shop_id, api.shop.owner.id, "currency", "EUR")
    status, body, _ = await api.post(order_body(external_id="web-2"))
    assert status == 201 and body["orders"][0]["currency"] == "EUR"


async def test_another_instance_stops_taking_a_revoked_token_within_the_ttl(api, database_url):
    other = await second_instance(api, database_url)
    try:
        # given both instances accepted the token
        assert (await api.get(1))[0] == 404
        assert (await other.get(1, token=api.token))[0] == 404
        # when it is revoked on the first
        info = await storefront_token(api)
        await api.tokens.revoke(api.shop_id, info.id)
        assert (await api.get(1))[0] == 401
        # then, once the TTL has passed, the second refuses it too
        api.container.clock.advance(TOKEN_TTL)
        assert (await other.get(1, token=api.token))[0] == 401
    finally:
        await other.client.close()
        await other.container.close()


async def test_another_instance_sees_a_suspension_within_the_ttl(api, database_url):
    other = await second_instance(api, database_url)
    try:
        assert (await other.get(1, token=api.token))[0] == 404
        await ShopOperations(api.container.sessions, api.container.clock).suspend(
            api.shop_id, "audit"
        )
        api.container.clock.advance(TOKEN_TTL)
        assert (await other.get(1, token=api.token))[0] == 403
    finally:
        await other.client.close()
        await other.container.close()


async def test_unknown_tokens_are_not_kept(api):
    tokens = known_tokens(api.container.sessions)
    assert (await api.get(1))[0] == 404
    assert len(tokens) == 1
    # a flood of made-up tokens: every one refused, none kept (the bound: test_expiring_cache)
    for _ in range(50):
        assert (await api.get(1, token="sbk_" + secrets.token_urlsafe(32)))[0] == 401
    assert len(tokens) == 1


async def test_a_new_workflow_version_takes_new_orders_at_once(api):
    # given an order on the shop's current version (which the API then keeps)
    first = await api.post(ORDER)
    assert first[0] == 201
    assert await workflow_of(api, 1) == await newest_version(api)
    # when the shop switches to another preset (a new version)
    await api.container.shop_settings.switch_preset(api.shop_id, api.shop.owner.id, "stages")
    # then the next order starts on it, with no time passing
    second = await api.post(order_body(external_id="web-2"))
    number = second[1]["orders"][0]["number"]
    assert await workflow_of(api, number) == await newest_version(api) != await workflow_of(api, 1)


async def test_another_instance_starts_orders_on_a_new_version_within_the_ttl(api, database_url):
    other = await second_instance(api, database_url)
    try:
        assert (await other.post(ORDER, token=api.token))[0] == 201
        await api.container.shop_settings.switch_preset(api.shop_id, api.shop.owner.id, "stages")
        api.container.clock.advance(CURRENT_TTL)
        status, body, _ = await other.post(order_body(external_id="web-2"), token=api.token)
        assert status == 201
        assert await workflow_of(api, body["orders"][0]["number"]) == await newest_version(api)
    finally:
        await other.client.close()
        await other.container.close()
