"""The process's heap once it is built: kept out of the garbage collector's full passes, and
collected less often while serving.

After start-up the heap holds some 280,000 objects that live as long as the process
(modules, SQLAlchemy's mappers and compiled statements, aiogram's and pydantic's classes).
CPython's full collection walks every one of them, about 170 ms on the event loop's
thread, and under load it runs every few seconds: each run stalls every request in flight
(issue 15: the storefront API's p99 and the loop's worst lag). `gc.freeze()` moves what
exists now into a permanent generation that collections skip; objects made later are
collected as before.

Collections while serving: CPython collects its youngest generation every 700 container
objects made (net of those freed), and everything a request holds while it waits on the
database or Telegram is alive then, so it is walked, moved to an older generation, and
walked again there. Under a burst of 1,000 taps that was 600-700 passes, 0.7-1.3 s of a
5 s burst (a fifth of the CPU), the full ones 50-130 ms each on the loop (bench/RESULTS.md,
nineteenth round). Objects are freed by their reference counts when their request ends;
the collector is only needed for reference cycles, and neither a tap nor a storefront
order leaves one (tests/storage/test_sessions_freed.py). So the youngest generation is
collected every 50,000 objects: none or one pass a burst. A pass walks the young objects
still alive, up to some tens of ms when it comes; cycles some other path leaves wait for
it, a few MB at most.
"""

from __future__ import annotations

import gc

# Container objects made (net of those freed) between two collections of the youngest
# generation; CPython's default is 700. The older generations keep theirs (10 and 10).
YOUNG_OBJECTS_PER_COLLECTION = 50_000


def settle() -> None:
    """Collect once, then freeze what is left and collect less often from now on: call when
    the process has built everything it keeps and is about to serve."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS_PER_COLLECTION, middle, old)
