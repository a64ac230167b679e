"""Carrier tracking, the outside-world side: one adapter per carrier behind one interface
(services/carriers/base.py), the buyers' tracking links, and the registry the composition
root builds. No database and no order logic: which event moves which order is workflow data.
"""

from services.carriers.adapters import build_adapters
from services.carriers.base import (
    FINAL_KINDS,
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
from services.carriers.links import CARRIERS, display_name, tracking_url

__all__ = [
    "CARRIERS",
    "FINAL_KINDS",
    "CarrierAdapter",
    "CarrierError",
    "Checkpoint",
    "EventKind",
    "FailureKind",
    "ProblemKind",
    "Tracking",
    "TrackingProblem",
    "build_adapters",
    "display_name",
    "normalize_code",
    "tracking_url",
]
