"""The composition root: builds the long-lived objects from settings, nothing at import time."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.outbound import AiohttpTransport
from bot.settings import Settings
from services.buyers.customers import CustomerService
from services.buyers.reviews import ReviewService
from services.buyers.service import BuyerService
from services.carriers.adapters import build_adapters
from services.carriers.base import CarrierAdapter
from services.deliveries.accounts import CarrierAccounts
from services.desk.board import DeskBoard
from services.desk.login import DeskLogin
from services.desk.numbers import DeskNumbers
from services.desk.scope import DeskScope
from services.desk.table import DeskTable
from services.documents.pool import RenderLimits, RenderPool
from services.documents.service import DocumentService
from services.messaging.cards import CardRegistry
from services.messaging.dialog import DialogService
from services.messaging.webhooks.log import WebhookLog
from services.money.ledger.balance import BalanceService
from services.money.returns import ReturnService
from services.operations.personal_data import PersonalData
from services.operations.shops import ShopOperations
from services.orders.numbers import order_numbers
from services.orders.queries import OrderQueries
from services.orders.service import OrderService
from services.orders.work import OrderWork
from services.outside.http import Transport
from services.outside.vault import Vault
from services.payments.rejected import RejectedNotices
from services.payments.service import PaymentService
from services.payments.settings import PaymentSettings
from services.payments.telegram import TelegramPayments
from services.payments.yookassa import YooKassaClient
from services.payments.yookassa_payments import YooKassaPayments
from services.products.catalog import ProductService
from services.shops.service import ShopService
from services.shops.settings import ShopSettingsService
from services.shops.staff import StaffService
from services.shops.users import UserService
from services.storefront.callbacks import CallbackRequests
from services.storefront.changes import StorefrontChanges
from services.storefront.connections.inbound import ConnectorInbound
from services.storefront.connections.registry import ConnectorRegistry
from services.storefront.connections.service import ConnectionService
from services.storefront.idempotency import IdempotencyStore
from services.storefront.keyed import KeyedRequests
from services.storefront.listing import StorefrontListing
from services.storefront.orders import StorefrontOrders
from services.storefront.queries import StorefrontQueries
from services.storefront.rate_limits import (
    LocalRateLimiter,
    NoLimit,
    RateLimiter,
    RedisRateLimiter,
)
from services.storefront.tokens import ApiTokenService
from services.storefront.webhook_settings import WebhookSettings
from services.time.clock import Clock, SystemClock
from services.workflow.editing import WorkflowEditor
from services.workflow.store import WorkflowStore
from storage.database import create_engine, create_session_factory


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    # Outside systems: the HTTP transport to the providers' URLs the operator configured,
    # and the vault of the credentials shops give us.
    outside: Transport
    vault: Vault
    workflows: WorkflowStore
    workflow_editor: WorkflowEditor  # the shop's own statuses, transitions, limits (issue 16)
    work: OrderWork  # the one transaction runner of every order change
    orders: OrderService
    shops: ShopService
    users: UserService
    staff: StaffService
    shop_settings: ShopSettingsService
    order_queries: OrderQueries
    cards: CardRegistry
    buyers: BuyerService
    customers: CustomerService  # the shop's view of a customer, by proven identity
    dialog: DialogService
    returns: ReturnService
    documents: DocumentService
    balance: BalanceService
    api_tokens: ApiTokenService
    webhook_settings: WebhookSettings
    idempotency: IdempotencyStore
    storefront_queries: StorefrontQueries
    storefront_orders: StorefrontOrders
    reviews: ReviewService
    # The storefront both ways (H4): keyed requests, changes, the list, one-click buy, the
    # per-token rate limit, the webhook delivery log, the platforms' connections.
    keyed: KeyedRequests
    storefront_changes: StorefrontChanges
    storefront_listing: StorefrontListing
    callbacks: CallbackRequests
    rate_limiter: RateLimiter
    webhook_log: WebhookLog
    connectors: ConnectorRegistry
    connections: ConnectionService
    connector_inbound: ConnectorInbound
    # The operator's: shops suspended and resumed, buyers forgotten and retention.
    shop_operations: ShopOperations
    personal_data: PersonalData
    # The Mini App (K1): the table, the board, the numbers, the desktop sign-in.
    desk_login: DeskLogin
    desk_scope: DeskScope
    desk_table: DeskTable
    desk_board: DeskBoard
    desk_numbers: DeskNumbers
    products: ProductService  # issue 19: products and stock
    # Deliveries (issue 18): the carriers' adapters and the shops' accounts at them.
    carriers: dict[str, CarrierAdapter]
    carrier_accounts: CarrierAccounts
    # Payments (issue 17): the shop's payment setup.
    payment_settings: PaymentSettings
    payments: PaymentService
    telegram_payments: TelegramPayments
    yookassa_payments: YooKassaPayments

    async def close(self) -> None:
        await self.documents.close()
        await self.outside.close()
        await self.rate_limiter.close()
        if self.work.numbers is not None:
            await self.work.numbers.close()
        await self.engine.dispose()


def build_container(settings: Settings, clock: Clock | None = None) -> Container:
    clock = clock or SystemClock()
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    workflows = WorkflowStore()
    work = OrderWork(
        sessions,
        clock,
        workflows,
        order_numbers(settings.database_url),
        max_in_flight=settings.order_max_in_flight,
    )
    orders = OrderService(work)
    idempotency = IdempotencyStore(sessions, clock)
    storefront_queries = StorefrontQueries(sessions, workflows)
    vault = Vault(settings.secret_keys)  # the first seals, every one opens
    callbacks = CallbackRequests(sessions, clock)
    payment_settings = PaymentSettings(sessions, vault)
    payments = PaymentService(sessions, clock, orders)
    outside = AiohttpTransport()
    connectors = ConnectorRegistry(
        shopify_api_url=settings.shopify_api_url,
        # A store on loopback over plain HTTP only where shops may point the bot inward.
        loopback_stores=settings.webhooks_to_private_addresses,
    )
    outside = AiohttpTransport()
    carriers = build_adapters(outside, settings.carrier_urls, clock=clock)
    return Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        outside=outside,
        vault=vault,
        workflows=workflows,
        workflow_editor=WorkflowEditor(sessions, clock, workflows, orders),
        work=work,
        orders=orders,
        shops=ShopService(sessions, clock, workflows),
        users=UserService(sessions, clock),
        staff=StaffService(sessions, clock),
        shop_settings=ShopSettingsService(sessions, clock, workflows),
        order_queries=OrderQueries(sessions, clock, workflows),
        cards=CardRegistry(sessions, clock),
        buyers=BuyerService(sessions, clock, workflows),
        customers=CustomerService(sessions, workflows),
        dialog=DialogService(sessions, clock),
        returns=ReturnService(work),
        reviews=ReviewService(work),
        documents=DocumentService(
            sessions,
            clock,
            orders,
            renderer=RenderPool(
                settings.document_workers,
                RenderLimits(
                    seconds=settings.document_render_seconds,
                    memory_mb=settings.document_worker_memory_mb,
                ),
            ),
        ),
        balance=BalanceService(sessions, clock),
        api_tokens=ApiTokenService(sessions, clock),
        webhook_settings=WebhookSettings(
            sessions, clock, allow_private=settings.webhooks_to_private_addresses
        ),
        idempotency=idempotency,
        storefront_queries=storefront_queries,
        storefront_orders=StorefrontOrders(orders, idempotency, storefront_queries),
        keyed=KeyedRequests(idempotency),
        storefront_changes=StorefrontChanges(orders, storefront_queries),
        storefront_listing=StorefrontListing(sessions, workflows),
        callbacks=callbacks,
        rate_limiter=_rate_limiter(settings, clock),
        webhook_log=WebhookLog(sessions, clock),
        connectors=connectors,
        connections=ConnectionService(sessions, clock, vault, connectors),
        connector_inbound=ConnectorInbound(sessions, clock, vault, connectors, orders, callbacks),
        shop_operations=ShopOperations(sessions, clock),
        personal_data=PersonalData(sessions, clock, workflows),
        desk_login=DeskLogin(sessions, clock),
        desk_scope=DeskScope(sessions, workflows),
        desk_table=DeskTable(sessions, clock, workflows),
        desk_board=DeskBoard(sessions, clock, workflows),
        desk_numbers=DeskNumbers(sessions, clock, workflows),
        products=ProductService(sessions, clock),
        carriers=carriers,
        carrier_accounts=CarrierAccounts(sessions, clock, vault, carriers),
        payment_settings=payment_settings,
        payments=payments,
        telegram_payments=TelegramPayments(sessions, orders, payment_settings, payments),
        yookassa_payments=YooKassaPayments(
            sessions,
            orders,
            payment_settings,
            payments,
            YooKassaClient(outside, settings.yookassa_api_url),
            settings.public_url,
            RejectedNotices(sessions, clock),
        ),
    )


def _rate_limiter(settings: Settings, clock: Clock) -> RateLimiter:
    """API_RATE_LIMIT per token, in Redis when REDIS_URL is set (every instance counts in
    one place), else in this process."""
    limit, window = settings.api_rate_limit, settings.api_rate_window_seconds
    if limit == 0:
        return NoLimit()
    if settings.redis_url:
        from redis.asyncio import Redis

        return RedisRateLimiter(Redis.from_url(settings.redis_url), clock, limit, window)
    return LocalRateLimiter(clock, limit, window)
