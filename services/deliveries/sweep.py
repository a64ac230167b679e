"""The tracking sweep: asks carriers about the parcels due, keeps what they said, and lets the
workflow's `on_carrier:` map move the orders (DESIGN "The outside world").

Like the timer sweep, it claims due rows for a lease (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so instances take different parcels) through ix_parcel_trackings_due: its cost
follows what is due, not how many parcels travel. The claimed parcels are grouped by carrier
and shop (credentials are per shop); each group is one `track` call, which the adapter cuts
into the carrier's batches and paces by its rate limits. Carriers are asked in parallel,
one group after another for each carrier.

A whole request that fails backs the group off (exponentially, or as long as the carrier
asked), keeping what earlier batches answered; a parcel's checkpoints are recorded once
each (a unique key), and each new one is offered to the workflow once: the checkpoint is
claimed in the transaction that applies it. Nothing a carrier sends is applied unless the
adapter could read it; an answer it could not read changes nothing and is logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.carriers.base import (
    CarrierAdapter,
    CarrierError,
    Checkpoint,
    EventKind,
    FailureKind,
    ProblemKind,
    Tracking,
    TrackingProblem,
    normalize_code,
)
from services.deliveries import tracking as policy
from services.deliveries.accounts import CarrierAccounts
from services.messaging.notifications.outbox import Outbox
from services.orders import notices
from services.orders.actors import ActorRef, Channel
from services.orders.service import OrderService
from services.refusals import OrderRefused
from services.time.clock import Clock
from services.workflow.definition import Workflow
from services.workflow.store import WorkflowStore
from storage.models import Order, ParcelCheckpoint, ParcelTracking

log = logging.getLogger(__name__)

BATCH = 1000  # parcels claimed at once
LEASE = timedelta(minutes=30)  # a sweep holds its parcels this long (asking takes a while)
BUDGET = 60.0  # seconds of one carrier account's rate-limit pacing a sweep may spend
# A parcel a carrier's webhook names is asked about at most once in this long on its account
# (the sweep still asks when it is due); HINTS_KEPT bounds what is remembered.
HINT_COOLDOWN = timedelta(minutes=5)
HINTS_KEPT = 10_000
NOTHING = "-"  # a checkpoint the workflow has no reaction to
CARRIER = ActorRef.system(Channel.CARRIER)


@dataclass
class TrackingReport:
    parcels: int = 0  # asked about
    requests: int = 0  # track() calls (each may be several HTTP requests, as the adapter cuts)
    checkpoints: int = 0  # new ones recorded
    outcomes: Counter[str] = field(default_factory=Counter)  # what the workflow made of them
    failures: Counter[str] = field(default_factory=Counter)  # failed requests by kind


@dataclass(frozen=True)
class _Due:
    id: int
    order_id: int
    shop_id: int
    carrier: str
    track_code: str
    moved_at: datetime
    failures: int
    stalled_at: datetime | None


class TrackingSweep:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        orders: OrderService,
        accounts: CarrierAccounts,
        adapters: Mapping[str, CarrierAdapter],
        workflows: WorkflowStore,
        *,
        batch: int = BATCH,
        lease: timedelta = LEASE,
        stall_days: Mapping[str, int] | None = None,
    ):
        self._stall_days = {**policy.STALL_DAYS, **(stall_days or {})}
        self._workflows = workflows
        self._sessions = sessions
        self._clock = clock
        self._orders = orders
        self._accounts = accounts
        self._adapters = adapters
        self._batch = batch
        self._lease = lease
        # When each (carrier, shop) account may be asked again, by its rate limit: what the
        # adapters' pacing would otherwise wait out inside a sweep.
        self._ready: dict[tuple[str, str], datetime] = {}
        # When a webhook last made us ask about each parcel: track codes are no secret, so
        # an unsigned webhook repeated in a loop must not spend the shop's carrier quota.
        self._hinted: dict[tuple[str, str], datetime] = {}

    async def run_once(self) -> TrackingReport:
        """Ask about every parcel due by now, batch after batch; then apply what is new."""
        now = self._clock.now()
        report = TrackingReport()
        while due := await self._claim(now):
            report.parcels += len(due)
            by_carrier: dict[str, list[_Due]] = defaultdict(list)
            for parcel in due:
                by_carrier[parcel.carrier].append(parcel)
            await asyncio.gather(
                *(self._carrier(name, parcels, report) for name, parcels in by_carrier.items())
            )
        await self._react(report)
        if report.parcels:
            log.info(
                "tracking: %s parcels, %s requests, %s new checkpoints, %s, failures %s",
                report.parcels,
                report.requests,
                report.checkpoints,
                dict(report.outcomes),
                dict(report.failures),
            )
        return report

    async def refresh(self, carrier: str, codes: list[str]) -> TrackingReport:
        """Ask now about the parcels a carrier's webhook named (CDEK's), by fetching them
        back through its API: the webhook itself is never trusted. Codes nobody follows
        change nothing."""
        report = TrackingReport()
        codes = sorted({normalize_code(code) for code in codes if isinstance(code, str)})[:50]
        codes = self._not_hinted_lately(carrier, codes)
        if not codes or carrier not in self._adapters:
            return report
        due = await self._claim(self._clock.now(), carrier=carrier, codes=codes)
        if due:
            report.parcels = len(due)
            await self._carrier(carrier, due, report)
            await self._react(report)
        return report

    def _not_hinted_lately(self, carrier: str, codes: list[str]) -> list[str]:
        """The codes no webhook named in the last HINT_COOLDOWN; remembers these ones."""
        now = self._clock.now()
        since = now - HINT_COOLDOWN
        if len(self._hinted) > HINTS_KEPT:  # forget the old ones, then the oldest
            kept = sorted(
                ((key, at) for key, at in self._hinted.items() if at > since),
                key=lambda pair: pair[1],
            )
            self._hinted = dict(kept[-HINTS_KEPT // 2 :])
        fresh = [code for code in codes if self._hinted.get((carrier, code), since) <= since]
        for code in fresh:
            self._hinted[(carrier, code)] = now
        return fresh

    async def _claim(
        self, now: datetime, *, carrier: str | None = None, codes: list[str] | None = None
    ) -> list[_Due]:
        due = (
            select(ParcelTracking.id)
            .where(
                ParcelTracking.state == policy.ACTIVE,
                or_(
                    ParcelTracking.claimed_until.is_(None),
                    ParcelTracking.claimed_until <= self._clock.now(),
                ),
            )
            .order_by(ParcelTracking.due_at, ParcelTracking.id)
            .limit(literal_column(str(int(self._batch))))
            .with_for_update(skip_locked=True)
        )
        if codes is not None:  # named by a webhook: due or not
            due = due.where(ParcelTracking.carrier == carrier, ParcelTracking.track_code.in_(codes))
        else:
            due = due.where(ParcelTracking.due_at <= now)
        async with self._sessions() as session, session.begin():
            rows = await session.execute(
                update(ParcelTracking)
                .where(ParcelTracking.id.in_(due.scalar_subquery()))
                .values(claimed_until=self._clock.now() + self._lease)
                .returning(
                    ParcelTracking.id,
                    ParcelTracking.order_id,
                    ParcelTracking.shop_id,
                    ParcelTracking.carrier,
                    ParcelTracking.track_code,
                    ParcelTracking.moved_at,
                    ParcelTracking.failures,
                    ParcelTracking.stalled_at,
                )
                .execution_options(synchronize_session=False)
            )
            return [_Due(*row) for row in rows]

    async def _carrier(self, name: str, parcels: list[_Due], report: TrackingReport) -> None:
        adapter = self._adapters.get(name)
        by_shop: dict[int, list[_Due]] = defaultdict(list)
        for parcel in parcels:
            by_shop[parcel.shop_id].append(parcel)
        async with self._sessions() as session:
            credentials = await self._accounts.opened(session, name, by_shop)
        for shop_id, group in by_shop.items():
            given = credentials.get(shop_id)
            if adapter is None or given is None:
                await self._later(group, "no account at the carrier", policy.NO_ACCOUNT)
                continue
            account = hashlib.sha256(json.dumps(sorted(given.items())).encode()).hexdigest()
            group = await self._within_rate(name, account, adapter, group)
            if not group:
                continue
            codes = sorted({parcel.track_code for parcel in group})
            report.requests += 1
            try:
                answers: dict[str, Tracking | TrackingProblem] = await adapter.track(given, codes)
                failure: CarrierError | None = None
            except CarrierError as error:
                answers, failure = error.done, error
                report.failures[str(error.kind)] += 1
                log.warning("tracking at %s for shop %s failed: %s", name, shop_id, error)
            except Exception:  # a bug in an adapter must not stop the other carriers
                log.exception("tracking at %s for shop %s failed", name, shop_id)
                answers, failure = {}, CarrierError(FailureKind.MALFORMED, "adapter error")
                report.failures["error"] += 1
            await self._keep(group, answers, failure, report)

    async def _within_rate(
        self, name: str, account: str, adapter: CarrierAdapter, group: list[_Due]
    ) -> list[_Due]:
        """The parcels this account may be asked about now without the adapter's pacing
        holding the sweep for more than BUDGET (Russian Post's free quota is one request in
        864 s); the others wait for the account's next turn, oldest due first."""
        interval = float(getattr(adapter, "min_interval", 0.0) or 0.0)
        batch = max(int(getattr(adapter, "max_batch", 1) or 1), 1)
        now = self._clock.now()
        key = (name, account)  # the account the carrier counts requests of (shops may share)
        ready = self._ready.get(key)
        if ready is not None and ready > now:
            await self._later(group, None, ready - now)
            return []
        requests = max(1, int(BUDGET // interval)) if interval else len(group)
        taken, rest = group[: requests * batch], group[requests * batch :]
        used = math.ceil(len(taken) / batch) * interval
        if interval:
            self._ready[key] = now + timedelta(seconds=used)
        if rest:
            await self._later(rest, None, timedelta(seconds=max(used, 1.0)))
        return taken

    async def _later(self, group: list[_Due], why: str | None, wait: timedelta) -> None:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(ParcelTracking)
                .where(ParcelTracking.id.in_([p.id for p in group]))
                .values(due_at=now + wait, claimed_until=None, last_error=why)
                .execution_options(synchronize_session=False)
            )

    async def _keep(
        self,
        group: list[_Due],
        answers: Mapping[str, Tracking | TrackingProblem],
        failure: CarrierError | None,
        report: TrackingReport,
    ) -> None:
        """What the carrier answered, in one transaction for the group."""
        now = self._clock.now()
        stalls: list[tuple[_Due, bool]] = []  # orders to flag (True) or unflag (False)
        outbox = Outbox(now)
        async with self._sessions() as session, session.begin():
            known = await self._known(session, [p.id for p in group])
            orders = await self._orders_of(session, [p.order_id for p in group])
            for parcel in group:
                answer = answers.get(parcel.track_code)
                values: dict[str, Any] = {"claimed_until": None}
                if isinstance(answer, Tracking):
                    new = [
                        c
                        for c in answer.checkpoints
                        if (c.carrier_code[:64], c.at) not in known[parcel.id]
                    ]
                    found = orders.get(parcel.order_id)
                    reacts = found[1].on_carrier if found is not None else {}
                    for checkpoint in new:
                        # What the workflow has no reaction to is settled at once: the
                        # workflow's turn below only visits what may move the order.
                        outcome = None if str(checkpoint.kind) in reacts else NOTHING
                        session.add(_row(parcel, checkpoint, now, outcome))
                    if new and found is not None:
                        # The cards show the latest checkpoints: redrawn now through the
                        # notifications pump, not only at the next status change (most
                        # checkpoints change none: in transit, or a reaction refused in the
                        # order's status). Once per piece of news: its latest checkpoint.
                        latest = max(new, key=lambda c: c.at)
                        notices.cards_refreshed(
                            outbox, parcel.shop_id, parcel.order_id, _news_key(parcel, latest)
                        )
                    report.checkpoints += len(new)
                    moved_at = now if new else parcel.moved_at
                    values.update(
                        polls=ParcelTracking.polls + 1,
                        failures=0,
                        last_error=None,
                        moved_at=moved_at,
                        due_at=policy.next_poll(now, moved_at),
                    )
                    if answer.latest is not None:
                        values["last_kind"] = str(answer.latest.kind)
                    if answer.final:
                        values.update(state=policy.DONE, finished_at=now)
                    stall = timedelta(days=self._stall_days.get(parcel.carrier, policy.STALL))
                    if new and parcel.stalled_at is not None:
                        values["stalled_at"] = None
                        stalls.append((parcel, False))
                    elif (
                        not new
                        and not answer.final
                        and parcel.stalled_at is None
                        # waiting at the pickup point is the buyer's time, not a stall
                        and (
                            answer.latest is None
                            or answer.latest.kind is not EventKind.ARRIVED_AT_PICKUP_POINT
                        )
                    ):
                        if now - parcel.moved_at >= stall:
                            values["stalled_at"] = now
                            stalls.append((parcel, True))
                elif isinstance(answer, TrackingProblem):
                    values.update(
                        polls=ParcelTracking.polls + 1,
                        failures=0,
                        last_error=f"{answer.kind}: {answer.message}"[:500],
                        due_at=policy.next_poll(now, parcel.moved_at),
                    )
                    if answer.kind is ProblemKind.INVALID_CODE:
                        values.update(state=policy.STOPPED, finished_at=now)
                else:  # the request failed before this code was answered
                    error = failure or CarrierError(FailureKind.MALFORMED, "no answer for code")
                    failures = parcel.failures + 1
                    wait = (
                        now + policy.NO_ACCOUNT
                        if error.kind is FailureKind.UNAUTHORIZED
                        else policy.backoff(now, failures, error.retry_after)
                    )
                    values.update(failures=failures, last_error=str(error)[:500], due_at=wait)
                if _ended(orders.get(parcel.order_id)) and values.get("state") is None:
                    # The order ended without the parcel's final word: nothing more to move.
                    values.update(state=policy.STOPPED, finished_at=now)
                await session.execute(
                    update(ParcelTracking)
                    .where(ParcelTracking.id == parcel.id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            await outbox.write(session)
        for parcel, stalled in stalls:
            days = (now - parcel.moved_at).days
            try:
                await self._orders.parcel_stalled(
                    parcel.order_id,
                    stalled,
                    f"parcel:{parcel.id}:stalled:{now.isoformat()}",
                    {"stalled": {"days": days, "carrier": parcel.carrier}},
                )
            except Exception:  # the flag is a courtesy: the tracking itself is recorded
                log.exception("flagging the stalled parcel of order %s failed", parcel.order_id)

    async def _known(self, session: AsyncSession, ids: list[int]) -> dict[int, set]:
        known: dict[int, set] = defaultdict(set)
        rows = await session.execute(
            select(
                ParcelCheckpoint.tracking_id, ParcelCheckpoint.carrier_code, ParcelCheckpoint.at
            ).where(ParcelCheckpoint.tracking_id.in_(ids))
        )
        for tracking_id, code, at in rows:
            known[tracking_id].add((code, at))
        return known

    async def _orders_of(
        self, session: AsyncSession, order_ids: list[int]
    ) -> dict[int, tuple[str, Workflow]]:
        """Each order's status and workflow (workflows come from the store's cache)."""
        rows = await session.execute(
            select(Order.id, Order.status, Order.workflow_id).where(Order.id.in_(order_ids))
        )
        return {
            order_id: (status, await self._workflows.get(session, workflow_id))
            for order_id, status, workflow_id in rows
        }

    # -- the workflow's turn -------------------------------------------------------------

    async def _react(self, report: TrackingReport) -> None:
        """Offer every checkpoint not yet considered to its order's workflow, oldest first."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(ParcelCheckpoint)
                    .where(ParcelCheckpoint.outcome.is_(None))
                    .order_by(ParcelCheckpoint.order_id, ParcelCheckpoint.at, ParcelCheckpoint.id)
                )
            ).scalars()
            pending = list(rows)
        for checkpoint in pending:
            outcome = await react(self._orders, self._sessions, checkpoint)
            report.outcomes[outcome.split(":")[0]] += 1


def _ended(found: tuple[str, Workflow] | None) -> bool:
    """The order is gone or in a final status: its parcel has nothing more to move."""
    if found is None:
        return True
    status, workflow = found
    try:
        return workflow.status(status).is_final
    except KeyError:
        return False


def _news_key(parcel: _Due, checkpoint: Checkpoint) -> str:
    """One checkpoint's news, short enough for the outbox's key."""
    seen = f"{checkpoint.carrier_code[:64]}|{checkpoint.at.isoformat()}"
    return f"parcel:{parcel.id}:{hashlib.sha256(seen.encode()).hexdigest()[:16]}"


def _row(
    parcel: _Due, checkpoint: Checkpoint, now: datetime, outcome: str | None
) -> ParcelCheckpoint:
    return ParcelCheckpoint(
        tracking_id=parcel.id,
        order_id=parcel.order_id,
        kind=str(checkpoint.kind),
        at=checkpoint.at,
        location=checkpoint.location[:200],
        description=checkpoint.description[:300],
        carrier_code=checkpoint.carrier_code[:64],
        seen_at=now,
        outcome=outcome,
    )


def claim(checkpoint_id: int, outcome: str) -> Callable[[AsyncSession, datetime], Awaitable[bool]]:
    """The checkpoint taken for `outcome` in the caller's transaction; False if taken before."""

    async def take(session: AsyncSession, _now: datetime) -> bool:
        done = await session.execute(
            update(ParcelCheckpoint)
            .where(ParcelCheckpoint.id == checkpoint_id, ParcelCheckpoint.outcome.is_(None))
            .values(outcome=outcome[:64])
            .execution_options(synchronize_session=False)
        )
        return done.rowcount == 1

    return take


def details(checkpoint: ParcelCheckpoint) -> dict[str, Any]:
    """What the audit event and the notices keep of a checkpoint."""
    return {
        "checkpoint": {
            "id": checkpoint.id,
            "kind": checkpoint.kind,
            "at": checkpoint.at.isoformat(),
            "location": checkpoint.location,
            "description": checkpoint.description,
        }
    }


async def react(
    orders: OrderService,
    sessions: async_sessionmaker[AsyncSession],
    checkpoint: ParcelCheckpoint,
) -> str:
    """Apply the order's `on_carrier:` reaction to one checkpoint, once; returns the outcome."""
    async with sessions() as session:
        status = await session.scalar(select(Order.status).where(Order.id == checkpoint.order_id))
    workflow = await orders.workflow_of(checkpoint.order_id)
    reaction = workflow.on_carrier.get(checkpoint.kind)
    action = None
    if reaction is not None and status is not None:
        action = next(
            (
                code
                for code in reaction.actions
                if any(
                    t.code == code and t.system and status in t.sources
                    for t in workflow.transitions
                )
            ),
            None,
        )
    if action is not None:
        outcome = f"applied: {action}"
        inputs = {"reason": reaction.reason} if reaction.reason else {}
        try:
            await orders.apply(
                checkpoint.order_id,
                CARRIER,
                action,
                inputs,
                once=claim(checkpoint.id, outcome),
                details=details(checkpoint),
            )
            return outcome
        except OrderRefused as refusal:
            outcome = f"refused: {refusal.code}"
            log.info("carrier %s, order %s: %s", checkpoint.kind, checkpoint.order_id, refusal)
    elif reaction is not None and reaction.tell_shop:
        outcome = "told the shop"
        told = await orders.tell_shop(
            checkpoint.order_id,
            f"carrier:{checkpoint.id}",
            f"carrier_{checkpoint.kind}",
            claim(checkpoint.id, outcome),
            details(checkpoint),
        )
        return outcome if told else "gone"
    else:
        outcome = NOTHING
    async with sessions() as session, session.begin():
        taken = await claim(checkpoint.id, outcome)(session, datetime.min)
    return outcome if taken else "gone"
