"""Each recorded platform payload becomes the order draft a shop would expect.

Items, money in minor units (taxes in, discounts where the platform put them), buyer,
delivery, payment, comment and external id, for every recording; events that carry no
order give None.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft, check_draft
from services.storefront.connectors import (
    ConnectorOrder,
    ShopifyConnector,
    TildaConnector,
    WooCommerceConnector,
)
from tests.outside.connectors_support import recording, shopify_headers, woo_headers

WOO = WooCommerceConnector()
SHOPIFY = ShopifyConnector()
TILDA = TildaConnector(currency="RUB")


def woo(name: str, topic: str = "order.created") -> ConnectorOrder | None:
    body = recording("woocommerce", name)
    return WOO.parse_order(woo_headers(body, topic), body)


def shopify(name: str, topic: str = "orders/create") -> ConnectorOrder | None:
    body = recording("shopify", name)
    return SHOPIFY.parse_order(shopify_headers(body, topic), body)


class TestWooCommerce:
    def test_the_documentation_example(self):
        # given the "Retrieve an order" example of WooCommerce's REST API documentation
        # when it arrives as an order.created webhook
        order = woo("order_created_docs_example.json")
        # then
        assert order == ConnectorOrder(
            platform="woocommerce",
            platform_order_id="727",
            platform_order_number="727",
            raw_status="processing",
            currency="USD",
            draft=OrderDraft(
                buyer=BuyerDraft(
                    name="John Doe", phone="(555) 555-5555", email="john.doe@example.com"
                ),
                items=[
                    # 2 × 3.00 plus 0.45 tax = 6.45: 3.23 a piece, 0.01 off the line.
                    ItemDraft(
                        sku="product-93",
                        name="Woo Single #1",
                        quantity=2,
                        unit_price=323,
                        discount=1,
                    ),
                    ItemDraft(
                        sku="Bar3",
                        name="Ship Your Idea – Color: Black, Size: M Test",
                        quantity=1,
                        unit_price=1290,
                    ),
                ],
                payment_method="bank_transfer",  # bacs
                delivery_method="carrier",  # flat_rate
                delivery_address="969 Market, San Francisco, CA, 94103, US",
                delivery_cost=1000,
                comment="",
                external_id="woocommerce:727",
                storefront_number="727",
            ),
        )
        # and the draft costs what the buyer paid: 29.35
        draft = order.draft
        assert sum(i.line_total for i in draft.items) + draft.delivery_cost == 2935

    def test_cash_on_delivery_pickup_with_fees_coupon_and_backorder(self):
        order = woo("order_created_cod_pickup.json")
        assert order is not None
        assert (order.platform_order_id, order.platform_order_number) == ("1042", "1042")
        assert order.currency == "RUB" and order.raw_status == "processing"
        assert order.draft == OrderDraft(
            buyer=BuyerDraft(
                name="Анна Смирнова", phone="8 (916) 123-45-67", email="anna@example.ru"
            ),
            items=[
                # 3 × 450.00 with VAT, a 10% coupon: 1215.00 for the line.
                ItemDraft(
                    sku="CANDLE-LAV",
                    name="Свеча «Лаванда»",
                    quantity=3,
                    unit_price=45000,
                    discount=13500,
                ),
                ItemDraft(
                    sku="HOLDER-01",
                    name="Подсвечник, ручная работа",
                    quantity=1,
                    unit_price=120000,
                    availability="made_to_order",  # "Backordered" item meta
                ),
                ItemDraft(sku="fee", name="Подарочная упаковка", quantity=1, unit_price=15000),
            ],
            payment_method="cash_on_delivery",
            delivery_method="pickup",
            delivery_address="ул. Тверская, 7, кв. 12, Москва, 125009, RU",
            delivery_cost=0,
            comment="Позвоните за час, пожалуйста",
            external_id="woocommerce:1042",
            storefront_number="1042",
            discount=10000,  # the negative fee
        )
        # The order service takes it as it is, phone read for a Russian shop.
        checked = check_draft(order.draft, "RU")
        assert checked.buyer.phone == "+79161234567"

    def test_updates_resend_the_order(self):
        updated = woo("order_created_cod_pickup.json", topic="order.updated")
        assert updated == woo("order_created_cod_pickup.json")

    @pytest.mark.parametrize(
        "topic",
        [
            "order.deleted",
            "order.restored",
            "product.created",
            "",
            "action.woocommerce_add_to_cart",
        ],
    )
    def test_other_topics_are_no_order(self, topic):
        body = recording("woocommerce", "order_created_cod_pickup.json")
        headers = woo_headers(body, topic)
        assert WOO.parse_order(headers, body) is None
        assert WOO.parse_order({}, body) is None

    def test_the_ping_is_no_order(self):
        assert WOO.parse_order({}, recording("woocommerce", "ping.txt")) is None


class TestShopify:
    def test_an_order_with_tax_on_top_and_a_discount_code(self):
        order = shopify("orders_create.json")
        assert order == ConnectorOrder(
            platform="shopify",
            platform_order_id="820982911946154508",
            platform_order_number="#1001",
            raw_status="paid",
            currency="USD",
            draft=OrderDraft(
                buyer=BuyerDraft(name="Jon Doe", phone="555-625-1199", email="jon@example.com"),
                items=[
                    # 199.00 + 11.34 tax, 10.00 off: 200.34 for the line.
                    ItemDraft(
                        sku="IPOD2008PINK",
                        name="IPod Nano - 8GB - Pink",
                        quantity=1,
                        unit_price=21034,
                        discount=1000,
                    ),
                    # 4 × 2.50 + 0.60 tax; no SKU, known by its variant.
                    ItemDraft(sku="variant-49148385", name="Stickers", quantity=4, unit_price=265),
                ],
                payment_method="card",  # shopify_payments
                delivery_method="carrier",
                delivery_address="123 Amoebobacterium St, Ottawa, Ontario, K2P 0V6, Canada",
                delivery_cost=1000,
                comment="Leave at the door",
                external_id="shopify:820982911946154508",
                storefront_number="#1001",
            ),
        )

    def test_cash_on_delivery_pickup_with_taxes_included_preorder_and_tip(self):
        order = shopify("orders_create_cod_pickup.json")
        assert order is not None
        assert order.platform_order_number == "#1002" and order.currency == "EUR"
        assert order.raw_status == "pending"
        assert order.draft == OrderDraft(
            buyer=BuyerDraft(
                name="Marie Curie", phone="+33 1 23 45 67 89", email="marie@example.fr"
            ),
            items=[
                ItemDraft(
                    sku="MUG-BLUE",
                    name="Ceramic mug - Blue",
                    quantity=3,
                    unit_price=1250,
                    discount=250,
                ),
                ItemDraft(
                    sku="variant-39072856",
                    name="Handmade vase",
                    quantity=1,
                    unit_price=4500,
                    availability="made_to_order",  # the pre-order app's line property
                ),
                ItemDraft(sku="tip", name="Tip", quantity=1, unit_price=500),
            ],
            payment_method="cash_on_delivery",
            delivery_method="pickup",
            delivery_address="",
            delivery_cost=0,
            comment="",
            external_id="shopify:5932712345678",
            storefront_number="#1002",
        )
        assert check_draft(order.draft, "FR").buyer.phone == "+33123456789"

    def test_topics(self):
        assert shopify("orders_create.json", "orders/updated") == shopify("orders_create.json")
        for topic in ("orders/cancelled", "products/create", "app/uninstalled", ""):
            assert shopify("orders_create.json", topic) is None


class TestTilda:
    def test_a_json_cart_with_options_promo_code_and_courier(self):
        order = TILDA.parse_order({}, recording("tilda", "cart_json.json"))
        assert order == ConnectorOrder(
            platform="tilda",
            platform_order_id="1734562890",
            platform_order_number="1734562890",
            raw_status="",
            currency="RUB",
            draft=OrderDraft(
                buyer=BuyerDraft(
                    name="Иван Петров", phone="+7 (916) 123-45-67", email="ivan@example.ru"
                ),
                items=[
                    ItemDraft(
                        sku="ARCTIC-XL",
                        name="Пуховик Arctic (Размер: XL)",
                        quantity=1,
                        unit_price=1200000,
                    ),
                    # No SKU: the product is known by its name with its options.
                    ItemDraft(
                        sku="Худи чёрное (Размер: M)",
                        name="Худи чёрное (Размер: M)",
                        quantity=2,
                        unit_price=250000,
                    ),
                ],
                payment_method="cash_on_delivery",
                delivery_method="courier",
                delivery_address="Москва, ул. Ленина, 1, кв. 5",
                delivery_cost=40000,
                comment="Домофон 12\nпосле 18:00",
                external_id="tilda:1734562890",
                storefront_number="1734562890",
                discount=100000,  # the promo code: 17000 + 400 - 16400
            ),
        )
        assert check_draft(order.draft, "RU").buyer.phone == "+79161234567"

    def test_a_form_cart_with_php_style_keys(self):
        order = TILDA.parse_order({}, recording("tilda", "cart_form.txt"))
        assert order is not None
        assert order.draft == OrderDraft(
            buyer=BuyerDraft(
                name="Ольга Соколова", phone="+7 999 000-00-00", email="olga@example.ru"
            ),
            items=[
                ItemDraft(sku="CANDLE-1", name="Свеча ароматическая", quantity=2, unit_price=99050),
                ItemDraft(sku="Открытка", name="Открытка", quantity=1, unit_price=15000),
            ],
            payment_method="bank_transfer",
            delivery_method="pickup",
            delivery_address="",
            delivery_cost=0,
            comment="",
            external_id="tilda:1734570001",
            storefront_number="1734570001",
        )

    def test_a_form_cart_with_products_as_text_lines(self):
        order = TILDA.parse_order({}, recording("tilda", "cart_form_text_lines.txt"))
        assert order is not None
        draft = order.draft
        assert [(i.sku, i.quantity, i.unit_price) for i in draft.items] == [
            ("Свеча ароматическая", 2, 99050),
            ("Открытка", 1, 15000),
        ]
        assert (draft.delivery_method, draft.delivery_cost) == ("post", 40000)
        assert draft.delivery_address == "190000, Санкт-Петербург, Невский пр., 1"
        assert draft.payment_method == "cash_on_delivery"  # no payment step in the cart
        assert draft.buyer == BuyerDraft(name="Пётр", phone="89160001122")

    def test_the_cart_as_one_json_string_in_a_form(self):
        """Tilda's form body may carry `payment` as a JSON string: the same order."""
        data = json.loads(recording("tilda", "cart_json.json"))
        fields = {k: v for k, v in data.items() if k != "payment"}
        body = urlencode({**fields, "payment": json.dumps(data["payment"], ensure_ascii=False)})
        assert TILDA.parse_order({}, body.encode()) == TILDA.parse_order(
            {}, recording("tilda", "cart_json.json")
        )

    def test_a_form_without_a_cart_is_no_order(self):
        assert TILDA.parse_order({}, recording("tilda", "lead_form.txt")) is None

    def test_the_currency_is_the_shops(self):
        order = TildaConnector(currency="EUR").parse_order({}, recording("tilda", "cart_form.txt"))
        assert order is not None and order.currency == "EUR"
        assert order.draft.items[0].unit_price == 99050  # euros and cents this time
