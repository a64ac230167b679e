"""Event-loop lag and the bot's memory while hostile document templates are previewed
(issue 14, item 4).

1. A fresh SQLite database (migrated) and a marketplace shop, built as `bot/container.py`
   builds the bot (its render pool: DOCUMENT_WORKERS, DOCUMENT_RENDER_SECONDS,
   DOCUMENT_WORKER_MEMORY_MB from the options below).
2. A lag probe on the event loop: a task that sleeps 5 ms again and again and records how
   late each wake-up is (what every other update waits behind).
3. 10 hostile previews at once through `DocumentService.preview` (what the template upload in
   Telegram and the Mini App call): loops for minutes, strings grown to gigabytes, a page bomb,
   a layout that is slow in the PDF writer, local files as images. Each must come back refused.
4. For comparison, in the same run: the first of them rendered the old way, on the event
   loop (`DocumentRenderer.pdf`), with the same probe.

Memory: the bot process's resident set (VmRSS) before and its peak (VmHWM) after; the
workers are other processes and are not counted in it (their cap is the setting).

Run: `.venv/bin/python bench/bench_hostile_templates.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.container import build_container
from bot.settings import Settings
from services.documents.render import DocumentRenderer
from services.documents.sandbox import TemplateProblem
from storage.migrate import upgrade

LOOPS = (
    "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)
HOSTILE = [
    LOOPS,
    '{{ ("a\\n" * 5000) | indent(100000) }}',
    "{% for i in range(1000) %}{% for j in range(6) %}x<br>{% endfor %}{% endfor %}",
    "{% for i in range(40) %}<table border='1'>{% for j in range(25) %}<tr><td>{{ i }}</td>"
    "<td>{{ j }}</td><td>x</td></tr>{% endfor %}</table>{% endfor %}",
    '<img src="/etc/passwd">',
    '<img src="/no/such/file.png">',
    "{% for i in range(1000) %}{{ 'x' * 9000 }}{% endfor %}",
    '{{ ("b\\n" * 5000) | indent(90000) }}',
    LOOPS.replace("range(1000) %}{% for c", "range(999) %}{% for c"),
    '<img src="http://169.254.169.254/latest/meta-data">',
]


def rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class LagProbe:
    def __init__(self, period: float = 0.005):
        self.period = period
        self.lags: list[float] = []
        self._running = True

    async def run(self) -> None:
        while self._running:
            started = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append(max(0.0, time.perf_counter() - started - self.period))

    def stop(self) -> None:
        self._running = False

    def summary(self) -> tuple[float, float, float]:
        ordered = sorted(self.lags) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000


async def probed(work) -> tuple[LagProbe, float, object]:
    probe = LagProbe()
    task = asyncio.create_task(probe.run())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    result = await work()
    elapsed = time.perf_counter() - started
    probe.stop()
    await task
    return probe, elapsed, result


async def run(workers: int, seconds: float, memory_mb: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="shopbot-bench-hostile-"))
    url = f"sqlite+aiosqlite:///{folder}/bench.db"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(
        _env_file=None,
        bot_token="1:x",
        database_url=url,
        document_workers=workers,
        document_render_seconds=seconds,
        document_worker_memory_mb=memory_mb,
    )
    container = build_container(settings)
    try:
        created = await container.shops.create_shop(
            name="Ромашка", owner_telegram_id=1, owner_name="Olga", preset="marketplace"
        )
        shop_id, owner_id = created.shop.id, created.owner.id
        documents = container.documents
        # Warm the pool (workers started and fonts loaded), as a running bot's would be.
        await documents.preview(shop_id, owner_id, "invoice", "ru", "<p>warm</p>")
        rss_before = rss_kb("VmRSS")

        async def hostile_previews():
            async def one(body: str) -> str:
                try:
                    await documents.preview(shop_id, owner_id, "invoice", "ru", body)
                except TemplateProblem as problem:
                    return problem.code or problem.kind
                return "rendered"

            return await asyncio.gather(*(one(body) for body in HOSTILE))

        pooled, pooled_seconds, outcomes = await probed(hostile_previews)
        rss_peak = rss_kb("VmHWM")

        async def inline_first():
            try:
                DocumentRenderer().pdf(LOOPS, {})
            except TemplateProblem as problem:
                return problem.code
            return "rendered"

        inline, inline_seconds, inline_outcome = await probed(inline_first)
    finally:
        await container.close()

    p50, p99, worst = pooled.summary()
    i50, i99, iworst = inline.summary()
    print(f"workers={workers} render_seconds={seconds:g} worker_memory_mb={memory_mb}")
    print(f"outcomes: {list(outcomes)}; inline: {inline_outcome}")
    print("| run | previews | wall s | probe wake-ups | lag p50 ms | lag p99 ms | lag max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| pool (this change) | {len(HOSTILE)} | {pooled_seconds:.1f} | {len(pooled.lags)} "
        f"| {p50:.1f} | {p99:.1f} | {worst:.1f} |"
    )
    print(
        f"| on the event loop (before) | 1 | {inline_seconds:.1f} | {len(inline.lags)} "
        f"| {i50:.1f} | {i99:.1f} | {iworst:.1f} |"
    )
    print(f"bot process RSS: {rss_before / 1024:.0f} MB before, peak {rss_peak / 1024:.0f} MB")
    return 0 if all(outcome != "rendered" for outcome in outcomes) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--memory-mb", type=int, default=512)
    args = parser.parse_args()
    return asyncio.run(run(args.workers, args.seconds, args.memory_mb))


if __name__ == "__main__":
    sys.exit(main())
