"""What a Telegram handler may ask for by name, and the type it gets under that name.

aiogram calls a handler with the keyword arguments its signature names, all from one dict:
what aiogram puts there itself (`bot`, `state`, `event_from_user`...: its `MiddlewareData`),
the Dispatcher's workflow data (the long-lived services, bot.telegram.build_dispatcher), and
what the middlewares add (`i18n`, `callback_answer`, and `user`/`actor` from
handlers.telegram.middlewares). `HandlerData` lists every name with its type; a handler's
parameter of that name is annotated with that type (tests/unit/test_handler_signatures.py
holds every registered handler to it). A name that may be absent (`user` and `actor` for an
anonymous group admin) is typed `X | None = None` by a handler that can do without it.

Filters add a few names for the handlers behind them: `FilterData`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from aiogram.dispatcher.middlewares.data import I18nData, MiddlewareData

if TYPE_CHECKING:
    from aiogram.filters import CommandObject
    from aiogram.filters.callback_data import CallbackData
    from aiogram.utils.callback_answer import CallbackAnswer

    from bot.settings import Settings
    from services.buyers.customers import CustomerService
    from services.buyers.reviews import ReviewService
    from services.buyers.service import BuyerOrder, BuyerService
    from services.deliveries.accounts import CarrierAccounts
    from services.desk.login import DeskLogin
    from services.documents.service import DocumentService
    from services.messaging.cards import CardRegistry
    from services.messaging.dialog import DialogService, ReplyTarget
    from services.messaging.webhooks.log import WebhookLog
    from services.money.ledger.balance import BalanceService
    from services.money.returns import ReturnService
    from services.orders.actors import ActorRef
    from services.orders.queries import OrderQueries
    from services.orders.service import OrderService
    from services.payments.settings import PaymentSettings
    from services.payments.telegram import TelegramPayments
    from services.payments.yookassa_payments import YooKassaPayments
    from services.products.catalog import ProductService
    from services.shops.service import ShopService
    from services.shops.settings import ShopSettingsService
    from services.shops.staff import StaffService
    from services.shops.users import Person, UserService
    from services.storefront.callbacks import CallbackRequests
    from services.storefront.connections.service import ConnectionService
    from services.storefront.tokens import ApiTokenService
    from services.storefront.webhook_settings import WebhookSettings
    from services.time.clock import Clock
    from services.workflow.editing import WorkflowEditor


class HandlerData(MiddlewareData, I18nData, total=False):
    # aiogram's CallbackAnswerMiddleware: a handler sets the answer's text; it is sent once.
    callback_answer: CallbackAnswer

    # The Dispatcher's workflow data (bot.telegram.build_dispatcher).
    settings: Settings
    clock: Clock
    orders: OrderService
    shops: ShopService
    users: UserService
    staff: StaffService
    shop_settings: ShopSettingsService
    order_queries: OrderQueries
    cards: CardRegistry
    buyers: BuyerService
    dialog: DialogService
    returns: ReturnService
    reviews: ReviewService
    documents: DocumentService
    balance: BalanceService
    api_tokens: ApiTokenService
    webhook_settings: WebhookSettings
    callbacks: CallbackRequests
    webhook_log: WebhookLog
    connections: ConnectionService
    carrier_accounts: CarrierAccounts
    desk_login: DeskLogin
    customers: CustomerService
    workflow_editor: WorkflowEditor
    products: ProductService  # issue 19: /products, the manual order's goods
    payment_settings: PaymentSettings
    telegram_payments: TelegramPayments
    yookassa_payments: YooKassaPayments

    # IdentityMiddleware: who is asking (absent for a bot's own updates).
    user: Person
    actor: ActorRef


class FilterData(TypedDict, total=False):
    callback_data: CallbackData  # CallbackData.filter(): the handler names its own subclass
    command: CommandObject  # Command()
    target: ReplyTarget  # handlers.telegram.dialog.reply_target: the order a reply is about
    open_orders: list[BuyerOrder]  # handlers.telegram.dialog.has_open_orders
