"""The per-process cache behind the storefront's token and workflow look-ups: bounded, entries
expire by the injected clock, and a read that raced with a change is not stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.expiring_cache import ExpiringCache

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=5)


def test_an_entry_lives_for_the_ttl_and_no_longer():
    cache: ExpiringCache[str, int] = ExpiringCache(TTL, size=10)
    cache.put("a", 1, NOW, cache.ticket())
    assert cache.get("a", NOW + TTL - timedelta(microseconds=1)) == 1
    assert cache.get("a", NOW + TTL) is None
    assert len(cache) == 0


def test_a_clock_moved_back_does_not_stretch_an_entry():
    cache: ExpiringCache[str, int] = ExpiringCache(TTL, size=10)
    cache.put("a", 1, NOW, cache.ticket())
    assert cache.get("a", NOW - timedelta(seconds=1)) is None


def test_the_least_recently_used_entry_goes_past_the_bound():
    cache: ExpiringCache[int, int] = ExpiringCache(TTL, size=3)
    for key in range(3):
        cache.put(key, key, NOW, cache.ticket())
    assert cache.get(0, NOW) == 0  # 0 used: 1 is now the least recent
    for key in range(3, 1000):
        cache.put(key, key, NOW, cache.ticket())
    assert len(cache) == 3
    assert cache.get(1, NOW) is None and cache.get(999, NOW) == 999


def test_a_read_that_began_before_a_change_is_not_stored():
    cache: ExpiringCache[str, str] = ExpiringCache(TTL, size=10)
    ticket = cache.ticket()  # a reader starts
    cache.forget("a")  # a change commits meanwhile
    cache.put("a", "what the reader saw before it", NOW, ticket)
    assert cache.get("a", NOW) is None
    cache.put("a", "read after", NOW, cache.ticket())
    assert cache.get("a", NOW) == "read after"


def test_forgetting_by_value():
    cache: ExpiringCache[str, int] = ExpiringCache(TTL, size=10)
    for key, shop in (("a", 1), ("b", 2), ("c", 1)):
        cache.put(key, shop, NOW, cache.ticket())
    cache.forget_where(lambda shop: shop == 1)
    assert [cache.get(k, NOW) for k in "abc"] == [None, 2, None]
