"""A webhook the storefront refuses for good counts as a failed delivery of its shop."""

from __future__ import annotations

from services import metrics
from tests.api.test_webhooks import (  # noqa: F401 - the fixtures these tests use
    order_moved,
    poster,
    pump_for,
    storefront,
    storefront_settings,
    webhook_rows,
)


async def test_a_refused_webhook_counts_for_the_shop(api, storefront, poster):  # noqa: F811
    counter = metrics.DELIVERIES_FAILED.labels("webhook", str(api.shop_id))
    before = counter._value.get()
    await storefront_settings(api).set_url(api.shop_id, storefront.url)
    await order_moved(api)
    storefront.answers = [410]
    await pump_for(api, poster).run_once()
    # (every order change writes its events; the storefront refused the first one for good)
    failed = [row for row in await webhook_rows(api) if row.state == "failed"]
    assert len(failed) == 1
    assert counter._value.get() == before + 1
