"""What every carrier adapter answers in, whatever the carrier's own API looks like.

A carrier is asked about many track codes at once and answers, per code, either the parcel's
journey (`Tracking`: checkpoints in our own words, `EventKind`, with the carrier's words and raw
code kept beside them) or why it cannot say (`TrackingProblem`). A request that fails as a
whole (bad credentials, rate limit, the carrier down, an answer we cannot read) is a
`CarrierError`, so the timer sweep that polls carriers can back off or stop asking.

Nothing here knows about orders: which `EventKind` moves which order is workflow data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable


class EventKind(StrEnum):
    """What happened to a parcel, in the same words for every carrier."""

    ACCEPTED = "accepted"  # the carrier has taken the parcel from the sender
    IN_TRANSIT = "in_transit"  # moving through the carrier's network (sorting, transport, courier)
    ARRIVED_AT_PICKUP_POINT = "arrived_at_pickup_point"  # waiting for the buyer to collect it
    DELIVERED = "delivered"  # handed to the buyer
    RETURNED_TO_SENDER = "returned_to_sender"  # going or gone back to the sender, not to the buyer
    REFUSED = "refused"  # the buyer refused to take it
    LOST = "lost"  # lost, destroyed or seized: it will not arrive


# After one of these the carrier has nothing more to say about the parcel's way to the buyer.
FINAL_KINDS = frozenset(
    {EventKind.DELIVERED, EventKind.RETURNED_TO_SENDER, EventKind.REFUSED, EventKind.LOST}
)


@dataclass(frozen=True)
class Checkpoint:
    kind: EventKind
    at: datetime  # timezone-aware UTC
    location: str  # where, as the carrier names it ("" when it does not say)
    description: str  # the carrier's own words for the event
    carrier_code: str  # the carrier's raw status code, for the record and for support

    def __post_init__(self) -> None:
        offset = self.at.utcoffset()
        if offset is None or offset != timedelta(0):
            raise ValueError("a checkpoint's time must be timezone-aware UTC")


@dataclass(frozen=True)
class Tracking:
    """A parcel's journey so far; no checkpoints means the carrier knows the code but has
    nothing to report yet (registered, not yet handed over)."""

    track_code: str
    checkpoints: tuple[Checkpoint, ...] = ()

    def __post_init__(self) -> None:
        # Oldest first; equal times keep the carrier's order (sorted() is stable).
        object.__setattr__(self, "checkpoints", tuple(sorted(self.checkpoints, key=lambda c: c.at)))

    @property
    def latest(self) -> Checkpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None

    @property
    def final(self) -> bool:
        latest = self.latest
        return latest is not None and latest.kind in FINAL_KINDS


class ProblemKind(StrEnum):
    """Why a carrier says nothing about one code, while it answered for the others."""

    NOT_FOUND = "not_found"  # the carrier does not know this code (or no longer: deleted)
    INVALID_CODE = "invalid_code"  # not a track number of this carrier's format
    REJECTED = "rejected"  # the carrier declined to answer for this code; its message says why


@dataclass(frozen=True)
class TrackingProblem:
    track_code: str
    kind: ProblemKind
    message: str = ""


class FailureKind(StrEnum):
    """Why a whole request to a carrier failed."""

    UNAUTHORIZED = "unauthorized"  # the shop's credentials were refused: ask the shop, not again
    RATE_LIMITED = "rate_limited"  # too many requests: wait `retry_after` (or back off)
    UNAVAILABLE = "unavailable"  # the carrier is down or unreachable: retry later
    MALFORMED = "malformed"  # an answer not in the documented shape: retry later, then alert
    INVALID = "invalid"  # our request was refused as wrong (missing credential, bad parameter)


class CarrierError(Exception):
    """A whole request failed. `done` holds what earlier batches of the same call answered,
    so a sweep keeps that work. Messages name no credential and quote no answer at length."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        retry_after: float | None = None,
        done: Mapping[str, Tracking | TrackingProblem] | None = None,
    ):
        self.kind = FailureKind(kind)
        self.message = message
        self.retry_after = retry_after
        self.done: dict[str, Tracking | TrackingProblem] = dict(done or {})
        super().__init__(f"{self.kind}: {message}")


TrackResult = dict[str, Tracking | TrackingProblem]


def normalize_code(code: str) -> str:
    """A track code as typed by a person (spaces, dashes, lower case) in the carriers' form."""
    return "".join(ch for ch in code if ch not in " -\t\n").upper()


@runtime_checkable
class CarrierAdapter(Protocol):
    name: str  # the carrier key, as in links.CARRIERS
    max_batch: int  # track codes one request may carry, as the carrier allows
    min_interval: float  # seconds between two requests, from the carrier's rate limits
    credential_fields: tuple[str, ...]  # what a shop must give, e.g. ("login", "password")

    async def track(self, credentials: Mapping[str, str], codes: Sequence[str]) -> TrackResult:
        """Every code asked about gets an answer; raises CarrierError when a request fails."""
        ...

    def valid_code(self, code: str) -> bool:
        """The carrier's documented track number format."""
        ...


@dataclass(frozen=True)
class CarrierCredentials:
    """Credentials checked against an adapter's `credential_fields` before any request."""

    values: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def require(cls, given: Mapping[str, str], fields: Sequence[str]) -> CarrierCredentials:
        missing = [
            name for name in fields if not isinstance(given.get(name), str) or not given[name]
        ]
        if missing:
            raise CarrierError(FailureKind.INVALID, f"missing credential: {', '.join(missing)}")
        return cls({name: given[name] for name in given if isinstance(given[name], str)})

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def __repr__(self) -> str:  # never shows a secret
        return f"CarrierCredentials({sorted(self.values)})"
