"""Who is asking: the identity a channel proved, before the service decides their rights."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    """Where an action came from, as the audit log records it (A9)."""

    TELEGRAM = "telegram"  # a button or a message in the bot
    MINI_APP = "mini_app"  # the Telegram Mini App (or its browser login)
    EMAIL = "email"  # a one-click link or a reply to an order e-mail
    API = "api"  # the storefront API
    SCHEDULER = "scheduler"  # a timer row fired by the sweep
    CLI = "cli"  # an operator's command
    PAYMENT = "payment"  # a payment provider's confirmed event
    CARRIER = "carrier"  # a carrier's tracking event
    CONNECTOR = "connector"  # a storefront platform's connector (WooCommerce, Shopify, Tilda)


class ActorType(StrEnum):
    USER = "user"  # a Telegram user: staff, the buyer, or a stranger
    BUYER = "buyer"  # a buyer proven by a signed link (e-mail): no Telegram account needed
    SYSTEM = "system"  # the scheduler, the storefront API, automatic steps


@dataclass(frozen=True)
class ActorRef:
    type: ActorType
    channel: Channel
    user_id: int | None = None
    buyer_id: int | None = None

    @classmethod
    def user(cls, user_id: int, channel: Channel = Channel.TELEGRAM) -> ActorRef:
        return cls(ActorType.USER, channel, user_id=user_id)

    @classmethod
    def buyer(cls, buyer_id: int, channel: Channel = Channel.EMAIL) -> ActorRef:
        return cls(ActorType.BUYER, channel, buyer_id=buyer_id)

    @classmethod
    def system(cls, channel: Channel = Channel.SCHEDULER) -> ActorRef:
        return cls(ActorType.SYSTEM, channel)
