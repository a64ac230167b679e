"""bot.heap.settle: what the process built at start-up is kept out of full collections."""

from __future__ import annotations

import gc

from bot import heap


def test_settling_freezes_the_heap_built_so_far():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        heap.settle()
        # everything alive now (the modules, the models, pytest) is out of the collector's way
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
