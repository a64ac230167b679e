"""CPU per e-mail of composing alone: the standard library's EmailMessage (the composer
before issue 15's third round, kept in tests/email_reference.py) against the hand-written
MIME of services.messaging.email.compose, on the same mails, alternately in one process.

The mails are the templates' own, rendered once per topic and language from the tests'
context (the renderer is not timed); with `--invoice-pdf` each carries a 30 KiB file.

The composers are synchronous; the bot calls them on its event loop, between awaits (the
pump reads a mail, composes it, sends it). So the timed rounds run on an event loop too,
each mail composed and then the loop given its turn (`asyncio.sleep(0)`, a few microseconds
per mail, the same for both), and the loop's lag is printed beside them (bench/loop_lag.py,
p99 and max in ms over all three rounds of a composer): what one compose makes every other
task wait.

Run: `.venv/bin/python bench/bench_compose.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loop_lag import LagProbe
from services.messaging.email.compose import compose
from services.messaging.email.render import MailRenderer
from tests.email_reference import reference_bytes
from tests.unit.test_email_mime import mail
from tests.unit.test_email_render import context

FROM = "orders@shopbot.bench"


def mails(with_file: bool) -> list:
    renderer = MailRenderer()
    made = []
    for topic in ("order_created", "status_changed", "new_order", "reminder"):
        for language in ("ru", "uk", "en"):
            content = renderer.render(topic, context(), language)
            made.append(
                mail(
                    subject=content.subject, text=content.text, html=content.html, language=language
                )
            )
    if with_file:
        pdf = ("счёт-42.pdf", "application/pdf", b"%PDF-1.4\n" + bytes(range(256)) * 120)
        made = [replace(m, attachments=[pdf]) for m in made]
    return made


async def cpu_ms(make, batch: list, rounds: int, probe: LagProbe) -> float:
    """CPU ms per mail; the probe, running across a composer's rounds, sees the loop's lag."""
    lags = probe.lags
    await probe.start()
    started = time.process_time()
    for _ in range(rounds):
        for one in batch:
            make(one)
            await asyncio.sleep(0)  # the loop's turn, as between the pump's awaits
    spent = time.process_time() - started
    await probe.stop()
    probe.lags = lags + probe.lags  # start() began a new list: keep the earlier rounds'
    return spent / (rounds * len(batch)) * 1000


async def measure(composers: dict, batch: list, rounds: int) -> tuple[dict, dict]:
    results: dict[str, list[float]] = {name: [] for name in composers}
    probes = {name: LagProbe() for name in composers}
    for _ in range(3):  # alternately, so that both see the same load
        for name, make in composers.items():
            results[name].append(await cpu_ms(make, batch, rounds, probes[name]))
    return results, {name: probe.report() for name, probe in probes.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--invoice-pdf", action="store_true")
    args = parser.parse_args()
    batch = mails(args.invoice_pdf)
    composers = {
        "EmailMessage (before)": lambda m: reference_bytes(m, from_address=FROM),
        "hand-written MIME (after)": lambda m: compose(m, from_address=FROM).data,
    }
    results, lags = asyncio.run(measure(composers, batch, args.rounds))
    print("| composer | CPU ms per e-mail (best of 3) | all three | loop lag p99 / max ms |")
    print("|---|---|---|---|")
    for name, values in results.items():
        print(
            f"| {name} | {min(values):.3f} | {', '.join(f'{v:.3f}' for v in values)} "
            f"| {lags[name].cells()} |"
        )
    print()
    for name, report in lags.items():
        print(report.line(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
