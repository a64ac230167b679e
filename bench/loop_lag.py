"""How late the event loop runs a timer while the code under test runs on it: the loop's lag.

Everything the bot does shares one event loop: while a callback runs without awaiting (a
PDF rendered inline, a big ORM flush, a template), every other update, request and timer
waits. Issue 15's target is that this wait stays at p99 <= 20 ms during every bench.

`LoopLag` is an asyncio task in the loop being measured that sleeps until a deadline ~5 ms
ahead, again and again, and records how late each wake-up came (`loop.time()` at the
wake-up minus the deadline). Use it around the timed part only:

    async with LoopLag() as lag:
        await code_under_test()
    print(lag.report())  # samples, p50/p99/max in ms

Reading the figures:
- One sample per wake-up, not per 5 ms of wall time: a loop blocked for 200 ms gives one
  sample of ~200 ms, not forty. p99 is "how late a timer was, 1 in 100 wake-ups"; max is the
  longest single stall. Both are what another task on that loop would have waited.
- A wake-up still due when the block ends counts as late by then, so a stall just before
  the context exits is not missed.
- Late by whom? At each wake-up the probe also reads its thread's CPU clock
  (`time.thread_time`, the loop thread's, since the probe runs on it). For the wake-ups
  later than 20 ms it reports the share of their intervals the loop's thread was on the CPU:
  near 100%, code on the loop held it (a blocking call, a long stretch between awaits, a
  garbage collection); low, the thread was runnable but not running (the machine's other
  load, or another thread holding the GIL), which no change to the code on the loop fixes.
- An idle loop shows up to ~1 ms: the selector's timeout is rounded up to whole
  milliseconds (epoll), so that much is the measuring, not the code.
- Cost: one task step per wake-up, about 200 a second, tens of microseconds of CPU each:
  well under 1% of a core (`python bench/loop_lag.py` measures it on this machine).

With `SHOPBOT_BENCH_STALLS=1` each probe also runs bench/loop_stalls.py beside it and prints,
when it stops, the stacks that held the loop for longer than 20 ms (to stderr).
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

if __package__ in (None, ""):  # run as a script: the checkout holds `bench`
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

from bench import loop_stalls

TARGET_P99_MS = 20.0  # issue 15: event-loop lag p99 during every bench
PERIOD = 0.005  # seconds between wake-ups


@dataclass(frozen=True)
class LagReport:
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    late: int = 0  # wake-ups later than the target
    late_cpu_share: float | None = None  # the loop thread's CPU / wall over their intervals

    @property
    def met(self) -> bool:
        return self.samples > 0 and self.p99_ms <= TARGET_P99_MS

    def cells(self) -> str:
        """The "loop lag p99/max ms" column of a bench's table."""
        return f"{self.p99_ms:.1f} / {self.max_ms:.1f}"

    def line(self, what: str = "") -> str:
        where = f" during {what}" if what else ""
        verdict = "meets" if self.met else "misses"
        late = ""
        if self.late:
            late = f"; {self.late} wake-ups later than {TARGET_P99_MS:g} ms"
            if self.late_cpu_share is not None:
                late += f", the loop's thread on CPU {self.late_cpu_share:.0%} of their time"
        return (
            f"event-loop lag{where}: p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"max {self.max_ms:.1f} ms over {self.samples} wake-ups "
            f"({verdict} p99 <= {TARGET_P99_MS:g} ms){late}"
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "samples": self.samples,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "late": self.late,
            "late_cpu_share": self.late_cpu_share,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LagReport:
        return cls(
            int(data["samples"]),
            data["p50_ms"],
            data["p99_ms"],
            data["max_ms"],
            int(data.get("late", 0)),
            data.get("late_cpu_share"),
        )

    @classmethod
    def worst(cls, reports: list[LagReport]) -> LagReport:
        """Several loops (instances) in one figure: each statistic's worst."""
        return cls(
            sum(r.samples for r in reports),
            max(r.p50_ms for r in reports),
            max(r.p99_ms for r in reports),
            max(r.max_ms for r in reports),
            sum(r.late for r in reports),
            max((r.late_cpu_share for r in reports if r.late_cpu_share is not None), default=None),
        )


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class LagProbe:
    """The probe: `start()` and `stop()` for callers that are not one `async with` block
    (a server started and stopped by requests); `LoopLag` is the context manager."""

    def __init__(self, period: float = PERIOD) -> None:
        self.period = period
        self.lags: list[float] = []  # seconds, one per wake-up
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due = 0.0  # loop time of the pending wake-up
        self._stalls: loop_stalls.StallSampler | None = None
        # The intervals that ended in a late wake-up: wall and the loop thread's CPU.
        self._late_wall = self._late_cpu = 0.0
        self._since = self._since_cpu = 0.0  # loop time and thread CPU at the last wake-up

    @property
    def running(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the probe is already running")
        self.lags = []
        self._late_wall = self._late_cpu = 0.0
        self._loop = asyncio.get_running_loop()
        self._since, self._since_cpu = self._loop.time(), time.thread_time()
        self._due = self._since + self.period
        self._task = self._loop.create_task(self._watch(), name="loop-lag-probe")
        if loop_stalls.enabled():
            self._stalls = loop_stalls.StallSampler()
            await self._stalls.start()
        # Let the task reach its first sleep now, so that a block right after start() is seen.
        await asyncio.sleep(0)

    async def _watch(self) -> None:
        loop = self._loop
        assert loop is not None
        while True:
            await asyncio.sleep(max(0.0, self._due - loop.time()))
            now = loop.time()
            self._record(now, now - self._due)
            self._due = now + self.period

    def _record(self, now: float, lag: float) -> None:
        self.lags.append(max(0.0, lag))
        cpu = time.thread_time()
        if lag * 1000 > TARGET_P99_MS:
            self._late_wall += now - self._since
            self._late_cpu += cpu - self._since_cpu
        self._since, self._since_cpu = now, cpu

    async def stop(self) -> LagReport:
        task, self._task = self._task, None
        if task is None:
            raise RuntimeError("the probe is not running")
        assert self._loop is not None
        now = self._loop.time()
        if now > self._due:  # the loop was busy when the wake-up fell due, and still is
            self._record(now, now - self._due)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            # Ours, or the caller's own cancellation (then it goes on up).
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        finally:
            stalls, self._stalls = self._stalls, None
            if stalls is not None:
                await stalls.stop()
                print(stalls.summary(), file=sys.stderr, flush=True)
        return self.report()

    def report(self) -> LagReport:
        if not self.lags:
            return LagReport(0, 0.0, 0.0, 0.0)
        ordered = sorted(self.lags)
        return LagReport(
            len(ordered),
            _percentile(ordered, 0.50) * 1000,
            _percentile(ordered, 0.99) * 1000,
            ordered[-1] * 1000,
            sum(1 for lag in ordered if lag * 1000 > TARGET_P99_MS),
            self._late_cpu / self._late_wall if self._late_wall > 0 else None,
        )


class LoopLag(LagProbe):
    """`async with LoopLag() as lag: ...`, then `lag.report()`."""

    async def __aenter__(self) -> LoopLag:
        await self.start()
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.stop()


async def _cost(seconds: float) -> tuple[float, float, LagReport]:
    """CPU of an idle loop for `seconds`, without and with the probe."""
    cpu = time.process_time()
    await asyncio.sleep(seconds)
    idle = time.process_time() - cpu
    cpu = time.process_time()
    async with LoopLag() as lag:
        await asyncio.sleep(seconds)
    return idle, time.process_time() - cpu, lag.report()


def main() -> None:
    seconds = 5.0
    idle, probed, report = asyncio.run(_cost(seconds))
    per_wake = (probed - idle) / max(1, report.samples) * 1e6
    print(
        f"idle loop {seconds:g} s: {idle * 1000:.1f} ms CPU; with the probe "
        f"{probed * 1000:.1f} ms CPU ({(probed - idle) / seconds * 100:.2f}% of a core, "
        f"{per_wake:.0f} us per wake-up)"
    )
    print(report.line("an idle loop"))


if __name__ == "__main__":
    main()
