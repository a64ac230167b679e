"""CPU per e-mail of composing alone: the standard library's EmailMessage (the composer
before issue 15's third round, kept in tests/email_reference.py) against the hand-written
MIME of services.messaging.email.compose, on the same mails, alternately in one process.

The mails are the templates' own, rendered once per topic and language from the tests'
context (the renderer is not timed); with `--invoice-pdf` each carries a 30 KiB file.

Run: `.venv/bin/python bench/bench_compose.py`.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def cpu_ms(make, batch: list, rounds: int) -> float:
    started = time.process_time()
    for _ in range(rounds):
        for one in batch:
            make(one)
    return (time.process_time() - started) / (rounds * len(batch)) * 1000


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
    results: dict[str, list[float]] = {name: [] for name in composers}
    for _ in range(3):  # alternately, so that both see the same load
        for name, make in composers.items():
            results[name].append(cpu_ms(make, batch, args.rounds))
    print("| composer | CPU ms per e-mail (best of 3) | all three |")
    print("|---|---|---|")
    for name, values in results.items():
        print(f"| {name} | {min(values):.3f} | {', '.join(f'{v:.3f}' for v in values)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
