"""Bot API calls that change nothing: both demos played, Telegram's "message is not modified"
answers counted (issue 14: a card is not drawn again when nothing on it changed).

Each demo (`bot/demo.py`, marketplace and platform) plays a whole story through the real bot,
the notification pump and the built-in emulator, which keeps every error it answered
(`world.api_errors`). The floor is 0: no edit needs to repeat what a message shows. Prints the
count per demo beside the floor, and every API error by method. Run:
`.venv/bin/python bench/bench_redraws.py`.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.demo import play  # noqa: E402
from bot.sandbox import emulator as emulator_module  # noqa: E402

NOT_MODIFIED = "message is not modified"


async def main() -> None:
    errors: list[list[tuple[str, str]]] = []
    stop = emulator_module.TelegramEmulator.stop

    async def keep_errors(self) -> None:
        errors.append(list(self.world.api_errors))
        await stop(self)

    emulator_module.TelegramEmulator.stop = keep_errors  # the demo's own emulator
    print("| demo | 'not modified' answers | floor | all API errors |")
    print("|---|---:|---:|---|")
    for preset in ("marketplace", "platform"):
        await play(preset, flood_limits=False)
        answered = errors[-1]
        wasted = sum(NOT_MODIFIED in text for _, text in answered)
        by_method = Counter(f"{method}: {text[:40]}" for method, text in answered)
        listed = "; ".join(f"{count} × {what}" for what, count in by_method.most_common()) or "—"
        print(f"| {preset} | {wasted} | 0 | {listed} |")


if __name__ == "__main__":
    asyncio.run(main())
