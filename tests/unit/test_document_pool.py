"""Documents render in worker processes with hard limits (issue 14, item 4): a hostile
template stalls only its own worker, which is killed past the wall time and replaced; each
worker's memory is capped; pages and images are limited; the event loop keeps running while
renders are under way. (The lag and memory numbers are measured in
bench/bench_hostile_templates.py, not asserted here.)"""

from __future__ import annotations

import asyncio
import base64
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from services.documents.pdf import MAX_PAGES
from services.documents.pool import RenderLimits, RenderPool
from services.documents.sandbox import (
    IMAGE_REFUSED,
    TOO_MANY_PAGES,
    TOO_SLOW,
    TemplateProblem,
)

# Lays out many table pages: slow in the PDF writer (no template call to check a budget on).
SLOW_LAYOUT = (
    "{% for i in range(40) %}<table border='1'>"
    "{% for j in range(25) %}<tr><td>{{ i }}</td><td>{{ j }}</td><td>x</td></tr>{% endfor %}"
    "</table>{% endfor %}"
)


def png(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def proc(pid: int, name: str) -> str:
    """/proc/PID/NAME, or "" when the process is gone."""
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except FileNotFoundError:
        return ""


@pytest.fixture
async def pool():
    pool = RenderPool(1, RenderLimits(seconds=10, memory_mb=512))
    yield pool
    await pool.close()


async def test_a_render_runs_in_a_worker_process_with_its_memory_capped(pool):
    pdf = await pool.pdf("<p>Hello</p>", {})
    assert pdf.startswith(b"%PDF")
    (pid,) = pool.worker_pids()
    assert pid != os.getpid()
    limits = proc(pid, "limits")
    line = next(line for line in limits.splitlines() if line.startswith("Max address space"))
    assert str(512 * 1024 * 1024) in line


async def test_a_render_past_the_wall_time_has_its_worker_killed_and_replaced():
    pool = RenderPool(1, RenderLimits(seconds=0.3))
    try:
        await pool.pdf("<p>warm</p>", {})
        (first,) = pool.worker_pids()
        with pytest.raises(TemplateProblem) as stopped:
            await pool.pdf(SLOW_LAYOUT, {})
        assert stopped.value.code == TOO_SLOW
        # the worker was killed, and the next render gets a fresh one
        assert await pool.pdf("<p>after</p>", {})
        (second,) = pool.worker_pids()
        assert second != first
        assert proc(first, "status") == "" or "zombie" in proc(first, "status")
    finally:
        await pool.close()


async def test_the_event_loop_runs_while_a_render_is_under_way():
    pool = RenderPool(1, RenderLimits(seconds=30))
    ticks = 0
    rendering = True

    async def probe():
        nonlocal ticks
        while rendering:
            ticks += 1
            await asyncio.sleep(0.001)

    try:
        await pool.pdf("<p>warm</p>", {})
        prober = asyncio.create_task(probe())
        await asyncio.sleep(0)
        await pool.pdf(SLOW_LAYOUT.replace("range(40)", "range(15)"), {})
        rendering = False
        await prober
    finally:
        await pool.close()
    # a render that blocked the loop would let the probe tick once or twice at most
    assert ticks > 20


async def test_too_many_pages_are_refused(pool):
    body = "{% for i in range(1000) %}{% for j in range(6) %}x<br>{% endfor %}{% endfor %}"
    with pytest.raises(TemplateProblem) as refused:
        await pool.pdf(body, {})
    assert refused.value.code == TOO_MANY_PAGES and str(MAX_PAGES) in refused.value.message


@pytest.mark.parametrize(
    "src",
    [
        "/etc/passwd",
        "/no/such/file.png",
        "file:///etc/hostname",
        "http://169.254.169.254/latest/meta-data",
        "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",
        "data:image/png;base64,bm90IGEgcG5n",
    ],
)
async def test_images_from_files_urls_or_not_images_are_refused_alike(pool, src):
    with pytest.raises(TemplateProblem) as refused:
        await pool.pdf(f'<img src="{src}">', {})
    # the same words whether or not a file exists there: nothing to learn about the machine
    assert refused.value.code == IMAGE_REFUSED
    assert "data: URIs" in refused.value.message and src not in refused.value.message


async def test_small_data_images_are_shown_and_huge_ones_refused(pool):
    assert (await pool.pdf(f'<img src="{png(40, 20)}" width="40">', {})).startswith(b"%PDF")
    with pytest.raises(TemplateProblem) as refused:
        await pool.pdf(f'<img src="{png(5000, 5000)}">', {})  # 25 megapixels, a few KB
    assert refused.value.code == IMAGE_REFUSED


async def test_renders_beyond_the_workers_wait_their_turn(pool):
    results = await asyncio.gather(*(pool.pdf(f"<p>{n}</p>", {}) for n in range(5)))
    assert all(pdf.startswith(b"%PDF") for pdf in results)
    assert len(pool.worker_pids()) == 1


@pytest.mark.parametrize(
    ("template", "code", "seconds"),
    [
        # the issue's: a string grown to gigabytes by one filter. Its time limit is generous
        # so that the memory limit is what stops it, also on a loaded machine (at 1 s, a slow
        # worker was sometimes stopped for time first).
        ('{{ ("a\\n" * 5000) | indent(100000) }}', "too_big", 30),
        # and a short template that loops for minutes
        (
            "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            TOO_SLOW,
            1,
        ),
    ],
)
async def test_hostile_templates_are_stopped_in_their_worker(template, code, seconds):
    pool = RenderPool(1, RenderLimits(seconds=seconds, memory_mb=384))
    try:
        with pytest.raises(TemplateProblem) as stopped:
            await pool.pdf(template, {}, check=True)
        assert stopped.value.code == code
        assert (await pool.pdf("<p>next</p>", {})).startswith(b"%PDF")  # the pool goes on
    finally:
        await pool.close()


@pytest.mark.parametrize(
    ("language", "start"),
    [("ru", "шаблон формируется слишком долго"), ("uk", "шаблон формується надто довго")],
)
def test_a_stopped_render_is_told_in_the_shops_language(language, start):
    from bot.i18n import build_i18n
    from handlers.telegram.documents import problem_text

    i18n = build_i18n()
    problem = TemplateProblem("limit", "the template takes too long to render", code=TOO_SLOW)
    with i18n.context(), i18n.use_locale(language):
        assert problem_text(problem).startswith(start)
