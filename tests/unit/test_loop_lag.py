"""The benches' event-loop lag probe (bench/loop_lag.py) sees a loop that is blocked.

Real time by nature: the blocks are real `time.sleep` calls on the loop's thread. The
assertions are lower bounds that a slow or loaded machine only makes larger (a blocked
thread cannot wake up early), and one generous upper bound between two figures of the same
run, so that none of them is a timing assertion a busy CI machine breaks.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.loop_lag import LagProbe, LagReport, LoopLag


def block_the_loop(seconds: float) -> None:
    """What the probe is for: a synchronous call that holds the loop's thread (on purpose)."""
    time.sleep(seconds)


def spin_the_loop(seconds: float) -> None:
    """A synchronous stretch of work on the loop's thread: CPU, not waiting."""
    ends = time.thread_time() + seconds
    while time.thread_time() < ends:
        pass


async def test_a_blocking_call_on_the_loop_shows_up_as_lag():
    # given a probe on the running loop
    async with LoopLag() as lag:
        await asyncio.sleep(0.02)
        # when the loop's thread blocks for 200 ms, three times
        for _ in range(3):
            block_the_loop(0.2)
            await asyncio.sleep(0.01)
    report = lag.report()

    # then the longest wake-up was at least about that late
    assert report.max_ms >= 150
    # and the three stalls are among the samples
    assert sum(1 for seconds in lag.lags if seconds >= 0.15) >= 3
    assert report.samples >= 4


async def test_a_block_just_before_the_end_is_not_missed():
    # given a probe whose task has not woken up yet
    async with LoopLag() as lag:
        # when the loop blocks and the context ends with no await in between
        block_the_loop(0.1)
    # then the wake-up that fell due during the block counts
    assert lag.report().max_ms >= 80


async def test_an_idle_loop_lags_far_less_than_a_blocked_one():
    # given the same probe over an idle loop, then over a blocked one
    async with LoopLag() as idle:
        await asyncio.sleep(0.1)
    async with LoopLag() as blocked:
        block_the_loop(0.3)
        await asyncio.sleep(0.01)

    # then the idle loop's median wake-up is much less late than the block
    assert idle.report().samples >= 1
    assert idle.report().p50_ms < blocked.report().max_ms / 2
    assert blocked.report().max_ms >= 250


async def test_percentiles_come_from_the_recorded_wake_ups():
    # given a probe whose samples are known (a 100-sample run, one late wake-up)
    probe = LagProbe()
    probe.lags = [0.001] * 98 + [0.030, 0.500]

    # when it reports
    report = probe.report()

    # then p50, p99 and max are those samples, in milliseconds, two of them late
    assert report == LagReport(100, 1.0, 500.0, 500.0, late=2)
    assert not report.met
    assert report.cells() == "500.0 / 500.0"
    assert LagReport.from_dict(report.as_dict()) == report


async def test_stop_ends_the_task_and_the_probe_can_run_again():
    probe = LagProbe()
    await probe.start()
    with pytest.raises(RuntimeError):
        await probe.start()
    await asyncio.sleep(0.02)
    first = await probe.stop()

    assert not probe.running
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "loop-lag-probe"]
    assert first.samples >= 1
    with pytest.raises(RuntimeError):
        await probe.stop()

    # a second run starts from no samples
    await probe.start()
    block_the_loop(0.05)
    second = await probe.stop()
    assert second.samples == 1 and second.max_ms >= 40


async def test_the_probe_stops_when_the_measured_code_raises():
    with pytest.raises(ValueError):
        async with LoopLag():
            await asyncio.sleep(0.01)
            raise ValueError("the code under test failed")
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "loop-lag-probe"]


async def test_late_wake_ups_say_whether_the_loop_thread_was_busy():
    # given a probe over a loop that computes for 100 ms, then one that sleeps 100 ms
    async with LoopLag() as computing:
        await asyncio.sleep(0.01)
        spin_the_loop(0.1)
        await asyncio.sleep(0.01)
    async with LoopLag() as sleeping:
        await asyncio.sleep(0.01)
        block_the_loop(0.1)
        await asyncio.sleep(0.01)

    # then both are late, and only the first held the CPU while late; CPU can only fall
    # short of wall time (a loaded machine lowers the first share, never raises the second)
    busy, idle = computing.report(), sleeping.report()
    assert busy.late >= 1 and idle.late >= 1
    assert idle.late_cpu_share is not None and idle.late_cpu_share < 0.5
    assert busy.late_cpu_share is not None and busy.late_cpu_share > idle.late_cpu_share


def test_no_samples_report_zeros_and_do_not_meet_the_target():
    report = LagProbe().report()
    assert report == LagReport(0, 0.0, 0.0, 0.0)
    assert not report.met
