"""`python -m bot.sandbox --port 8081`: the emulator on its own (see docs/emulator.md)."""

from bot.sandbox.server import main

if __name__ == "__main__":
    main()
