"""Prometheus metrics (G2): what happened, counted per instance, and the backlog, read at scrape.

Counters live in the process and count what this instance did once its transaction committed
(a rolled-back attempt counts nothing). Gauges that describe the shared database (the outbox
backlog and its age, due timers, open time-limit problems) are read from it when /metrics is
scraped, so every instance reports the same, current values.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Order, OutboxMessage, Timer

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES = Counter(
    "shopbot_updates",
    "Telegram updates taken by this instance, by kind and outcome",
    ["kind", "outcome"],  # outcome: handled | not_handled | failed | duplicate | poison
    registry=REGISTRY,
)
TRANSITIONS = Counter(
    "shopbot_transitions",
    "Order status changes written by this instance, by action and channel",
    ["action", "channel"],
    registry=REGISTRY,
)
ORDERS_CREATED = Counter(
    "shopbot_orders_created",
    "Orders created by this instance, by source",
    ["source"],
    registry=REGISTRY,
)
SLA_BREACHES = Counter(
    "shopbot_sla_breaches",
    "Orders this instance found past their acceptable processing time",
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Gauge(
    "shopbot_outbox_backlog",
    "Notifications not yet delivered, by channel",
    ["channel"],
    registry=REGISTRY,
)
OUTBOX_OLDEST_AGE = Gauge(
    "shopbot_outbox_oldest_age_seconds",
    "Age of the oldest notification not yet delivered, by channel",
    ["channel"],
    registry=REGISTRY,
)
# Per shop, so an operator sees whose customers do not hear from the bot. The label is the
# shop's id, and a series exists only for a shop that had a failure since the process
# started: at most 3 series per such shop (docs/operations.md "Metrics" on cardinality).
DELIVERIES_FAILED = Counter(
    "shopbot_deliveries_failed",
    "Notifications given up on (blocked, refused, out of retries), by channel and shop",
    ["channel", "shop"],
    registry=REGISTRY,
)
# Faults of the outgoing mail relay (the operator's to fix; never shown to shops): "down" (no
# connection, login or MAIL FROM refused: every message waits), "deferred" (a message refused
# other than for its recipient: retried with backoff).
MAIL_RELAY_FAULTS = Counter(
    "shopbot_mail_relay_faults",
    "Faults of the outgoing mail relay, by kind (down, deferred)",
    ["kind"],
    registry=REGISTRY,
)
# Storefront API requests that waited past the API's queue time for a slot
# (handlers/http/api/in_flight.py) and were answered 503 busy.
API_REQUESTS_SHED = Counter(
    "shopbot_api_requests_shed",
    "Storefront API requests answered busy after waiting too long for a slot",
    registry=REGISTRY,
)
TIMERS_DUE = Gauge(
    "shopbot_timers_due",
    "Timers due now and not yet fired",
    registry=REGISTRY,
)
ORDERS_PAST_LIMIT = Gauge(
    "shopbot_orders_past_time_limit",
    "Orders flagged as past their acceptable processing time",
    registry=REGISTRY,
)

CHANNELS = ("telegram", "email", "webhook")


def count_failed_delivery(channel: str, shop_id: int | None) -> None:
    DELIVERIES_FAILED.labels(channel, str(shop_id) if shop_id else "none").inc()


def count_transitions(actions: list[str], channel: str) -> None:
    for action in actions:
        _transitions(action, channel).inc()


@cache
def _transitions(action: str, channel: str):
    """The counter of one action and channel, looked up once: `labels()` checks and joins
    its values and takes a lock on every call (issue 15: every status change counts). The
    workflows' action codes and the channels are few; the registry keeps each child anyway."""
    return TRANSITIONS.labels(action, channel)


PENDING = "pending"  # outbox and timer rows waiting for their pump or sweep


async def read_backlog(sessions: async_sessionmaker[AsyncSession], now: datetime) -> None:
    """Set the gauges from the database (on every scrape; each is one indexed query)."""
    async with sessions() as session:
        backlog = {
            channel: (count, oldest)
            for channel, count, oldest in await session.execute(
                select(
                    OutboxMessage.channel,
                    func.count(),
                    func.min(OutboxMessage.created_at),
                )
                .where(OutboxMessage.state == PENDING)
                .group_by(OutboxMessage.channel)
            )
        }
        due = await session.scalar(
            select(func.count()).where(Timer.state == PENDING, Timer.due_at <= now)
        )
        past_limit = await session.scalar(select(func.count()).where(Order.problem.is_(True)))
    for channel in {*CHANNELS, *backlog}:
        count, oldest = backlog.get(channel, (0, None))
        OUTBOX_BACKLOG.labels(channel).set(count)
        OUTBOX_OLDEST_AGE.labels(channel).set(_age(oldest, now))
    TIMERS_DUE.set(due or 0)
    ORDERS_PAST_LIMIT.set(past_limit or 0)


def _age(oldest: datetime | str | None, now: datetime) -> float:
    if oldest is None:
        return 0.0
    if isinstance(oldest, str):  # SQLite's MIN() over a timestamp column gives its text
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return max((now - oldest).total_seconds(), 0.0)
