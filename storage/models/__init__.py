"""The database schema: SQLAlchemy 2 typed models.

Every table that belongs to a shop carries `shop_id`: one installation serves many shops.
Money is integer minor units (kopecks, cents) next to a currency code. Times are UTC.

One module per domain; every model is importable from `storage.models`.
"""

from storage.models.base import NAMING_CONVENTION, Base
from storage.models.connectors import ConnectorDelivery, ShopConnection
from storage.models.deliveries import CarrierAccount, ParcelCheckpoint, ParcelTracking
from storage.models.desk import DeskLoginLink, DeskSession
from storage.models.documents import DocumentTemplate
from storage.models.messaging import (
    Delivery,
    DialogFile,
    DialogMessage,
    DialogRelay,
    OrderCard,
    OutboxMessage,
    TelegramUpdate,
    UsedLink,
)
from storage.models.money import LedgerEntry, ReturnLine, ReturnRequest, Review
from storage.models.operations import InboundEmail
from storage.models.orders import Buyer, Order, OrderEvent, OrderItem, Timer
from storage.models.payment_notices import RejectedPaymentNotice
from storage.models.payments import Payment, PaymentRefund
from storage.models.products import Product, StockMovement
from storage.models.shops import (
    ApiToken,
    OrderCounter,
    Shop,
    StaffInvite,
    StaffMember,
    User,
    WorkflowDefinition,
)
from storage.models.storefront import CallbackRequest, IdempotencyKey
from storage.models.workflow_editing import WorkflowChange, WorkflowDraft

__all__ = [
    "NAMING_CONVENTION",
    "ApiToken",
    "Base",
    "Buyer",
    "CallbackRequest",
    "CarrierAccount",
    "ConnectorDelivery",
    "Delivery",
    "DeskLoginLink",
    "DeskSession",
    "DialogFile",
    "DialogMessage",
    "DialogRelay",
    "DocumentTemplate",
    "IdempotencyKey",
    "InboundEmail",
    "LedgerEntry",
    "Order",
    "OrderCard",
    "OrderCounter",
    "OrderEvent",
    "OrderItem",
    "OutboxMessage",
    "ParcelCheckpoint",
    "ParcelTracking",
    "Payment",
    "PaymentRefund",
    "Product",
    "RejectedPaymentNotice",
    "ReturnLine",
    "ReturnRequest",
    "Review",
    "Shop",
    "ShopConnection",
    "StaffInvite",
    "StaffMember",
    "StockMovement",
    "TelegramUpdate",
    "Timer",
    "UsedLink",
    "User",
    "WorkflowChange",
    "WorkflowDefinition",
    "WorkflowDraft",
]
