"""The Telegram front-end: aiogram routers, one per audience and feature.

`get_routers()` lists them in the order updates should try them: commands and buttons
first, conversations (FSM states) next, catch-alls last.
"""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers.telegram import (
        api_tokens,
        balance,
        buyer,
        callback_requests,
        carrier_settings,
        connectors,
        conversation,
        customers,
        dialog,
        documents,
        fallback,
        language,
        manual_order,
        mini_app,
        onboarding,
        order_card,
        order_edit,
        order_list,
        order_money,
        pay,
        payment_settings,
        products,
        returns,
        reviews,
        shop_settings,
        staff,
        start,
        stock_recount,
        webhook_log,
        workflow_editor,
    )

    return [
        # The order card's buttons, the commonest update: no router before them handles
        # their "o:" data, so trying them first changes nothing but the five routers a tap
        # went through first (half of its routing, issue 15).
        order_card.buttons(),
        # /cancel ends any conversation, before any conversation can take it as its input.
        conversation.router(),
        start.router(),  # /start, deep links (staff invites, buyers' order links), /help, the menu
        language.router(),  # /language: each person's own
        buyer.router(),  # the buyer: /my, opening their cards, "How to pay"
        pay.router(),  # the buyer pays in Telegram: the invoice, pre-checkout, the payment
        order_card.router(),  # the order card: /order, the track code and comment conversations
        order_list.router(),  # /orders with filters, search and pages; /queue
        mini_app.router(),  # /table: "📊 Open the table" (the Mini App); /web: a browser sign-in
        order_edit.router(),  # the card's "✏️ Edit": goods, delivery, payment, discounts, split
        callback_requests.router(),  # a one-click buy's ping: the /new form, prefilled (002)
        order_money.router(),  # the card's money: a due paid, a refund made (issue 14)
        customers.router(),  # the card's "👤 Customer": orders by proven identity (staff)
        manual_order.router(),  # /new: an order taken by phone
        staff.router(),  # staff list, invite links, removal; /bind and /unbind in groups
        shop_settings.router(),  # /settings, responsible role per status, /shops
        workflow_editor.router(),  # /settings -> 🗂 Statuses: the shop's own workflow (issue 16)
        payment_settings.router(),  # /settings -> how buyers pay, the Telegram Payments token
        onboarding.router(),  # /newshop: the create-a-shop conversation
        balance.router(),  # /balance: reserved, available, the latest ledger entries
        products.router(),  # /products: search, stock, price (issue 19)
        stock_recount.router(),  # the real count after an out-of-stock cancellation (19)
        returns.router(),  # returns: the buyer's request, the shop's steps (F1)
        reviews.router(),  # stars and words after receipt, the shop's answer (F3)
        documents.router(),  # document templates from /settings; an order's PDFs (E1-E3)
        api_tokens.router(),  # /settings -> storefront API tokens and the webhook (G1)
        webhook_log.router(),  # ... -> the webhook deliveries, retry now (H4)
        connectors.router(),  # ... -> WooCommerce, Shopify, Tilda connected (H4)
        carrier_settings.router(),  # /settings -> carrier accounts: parcels followed (18)
        # The per-order dialog: replies to relayed messages (staff and buyers), the buyer's
        # "write to the shop" conversation, and a buyer's message with no context (asks which
        # order). After every other conversation, before the catch-alls.
        dialog.router(),
        fallback.router(),  # last: buttons and messages nothing else understood
    ]
