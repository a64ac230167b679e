"""The process's heap once it is built: kept out of the garbage collector's full passes.

After start-up the heap holds some 280,000 objects that live as long as the process
(modules, SQLAlchemy's mappers and compiled statements, aiogram's and pydantic's classes).
CPython's full collection walks every one of them, about 170 ms on the event loop's
thread, and under load it runs every few seconds: each run stalls every request in flight
(issue 15: the storefront API's p99 and the loop's worst lag). `gc.freeze()` moves what
exists now into a permanent generation that collections skip; objects made later are
collected as before.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect once, then freeze what is left: call when the process has built everything
    it keeps and is about to serve."""
    gc.collect()
    gc.freeze()
