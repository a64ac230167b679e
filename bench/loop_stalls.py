"""Which call holds the event loop when it is late: stacks taken while it stalls.

bench/loop_lag.py says how late the loop is; this says why. A heartbeat task on the loop
notes the time every 2 ms; a watchdog thread looks every 2 ms, and while the heartbeat is
older than the threshold (20 ms: issue 15's lag target) it takes the loop thread's stack
(`sys._current_frames`) and counts it. Garbage collections are timed too (`gc.callbacks`):
a collection holds the interpreter, so the watchdog cannot sample during one, and a long
one is reported by its generation instead.

The watchdog needs the GIL to look, which a busy loop thread gives up every 5 ms (the
switch interval): so a sample stands for 2-5 ms of stall, the counts compare between
stacks, and their total is a lower bound of the time stalled. A stack is shown
by its innermost frames in this project (services/, storage/, handlers/, bot/, bench/) and
its innermost frame anywhere (the library call that took the time).

The benches turn it on with `SHOPBOT_BENCH_STALLS=1`: `LoopLag` then runs it beside the
probe and prints the top stalls to stderr when it stops. The watchdog thread takes the GIL
every 2 ms, so it is for finding causes, not for the figures.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ENABLE_VARIABLE = "SHOPBOT_BENCH_STALLS"
ROOT = str(Path(__file__).resolve().parents[1])
OWN = tuple(f"{ROOT}/{part}/" for part in ("services", "storage", "handlers", "bot", "bench"))


def enabled() -> bool:
    return os.environ.get(ENABLE_VARIABLE, "") not in ("", "0")


def _describe(frame) -> str:
    own: list[str] = []
    innermost = None
    while frame is not None:
        code = frame.f_code
        where = f"{code.co_filename.removeprefix(ROOT + '/')}:{frame.f_lineno} {code.co_name}"
        if innermost is None:
            innermost = where
        if code.co_filename.startswith(OWN) and not code.co_filename.endswith(
            ("loop_stalls.py", "loop_lag.py")
        ):
            own.append(where)
            if len(own) == 3:
                break
        frame = frame.f_back
    return f"{' <- '.join(own) or '(no project frame)'}  [innermost: {innermost}]"


class StallSampler:
    def __init__(self, threshold: float = 0.020, interval: float = 0.002) -> None:
        self.threshold = threshold
        self.interval = interval
        self.stacks: Counter[str] = Counter()
        self.collections: Counter[int] = Counter()  # long collections by generation
        self.collection_ms: list[tuple[int, float]] = []
        self._beat = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task | None = None
        self._gc_started = 0.0

    async def _heartbeat(self) -> None:
        while True:
            self._beat = time.monotonic()
            await asyncio.sleep(self.interval)

    def _watch(self, loop_thread: int) -> None:
        while not self._stop.wait(self.interval):
            if time.monotonic() - self._beat > self.threshold:
                frame = sys._current_frames().get(loop_thread)
                if frame is not None:
                    self.stacks[_describe(frame)] += 1

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        took = time.perf_counter() - self._gc_started
        if took > self.threshold / 4:
            self.collection_ms.append((info["generation"], took * 1000))

    async def start(self) -> None:
        self._beat = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._heartbeat())
        self._thread = threading.Thread(
            target=self._watch, args=(threading.get_ident(),), name="loop-stalls", daemon=True
        )
        self._thread.start()
        gc.callbacks.append(self._on_gc)

    async def stop(self) -> None:
        gc.callbacks.remove(self._on_gc)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def summary(self, top: int = 8) -> str:
        total = sum(self.stacks.values())
        lines = [
            f"loop stalls over {self.threshold * 1000:g} ms: {total} samples "
            f"(~{total * self.interval * 1000:.0f} ms stalled)"
        ]
        for stack, count in self.stacks.most_common(top):
            lines.append(f"  {count:5d}  {stack}")
        if self.collection_ms:
            by_generation: dict[int, list[float]] = {}
            for generation, ms in self.collection_ms:
                by_generation.setdefault(generation, []).append(ms)
            for generation, times in sorted(by_generation.items()):
                lines.append(
                    f"  gc generation {generation}: {len(times)} collections over "
                    f"{self.threshold / 4 * 1000:g} ms, longest {max(times):.1f} ms, "
                    f"{sum(times):.0f} ms in all"
                )
        return "\n".join(lines)
