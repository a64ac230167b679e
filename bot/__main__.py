"""`python -m bot ...`: the command line (see `python -m bot --help`)."""

from bot.cli import main

if __name__ == "__main__":
    main()
