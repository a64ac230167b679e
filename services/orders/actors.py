"""Who is asking: the identity a channel proved, before the service decides their rights."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    TELEGRAM = "telegram"
    EMAIL = "email"
    API = "api"
    SCHEDULER = "scheduler"
    CLI = "cli"


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
