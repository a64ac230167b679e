"""bot.heap.settle: what the process built at start-up is kept out of full collections, and
the young objects made while serving are collected in larger batches."""

from __future__ import annotations

import gc

from bot import heap


def test_settling_freezes_the_heap_built_so_far():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    try:
        heap.settle()
        # everything alive now (the modules, the models, pytest) is out of the collector's way
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_once_settled_thousands_of_new_objects_are_not_walked_by_a_collection():
    thresholds = gc.get_threshold()
    collections: list[int] = []

    def counted(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    heap.settle()
    gc.callbacks.append(counted)
    try:
        kept = [[index] for index in range(20_000)]  # 20,000 young container objects
        assert collections == []  # with CPython's default, 700 of them started a collection
        assert len(kept) == 20_000
    finally:
        gc.callbacks.remove(counted)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
