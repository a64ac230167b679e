"""A lost database connection (issue 14, item 6): the storefront API answers 503 with
Retry-After, so a storefront retries, instead of a 500 that reads as our bug."""

from __future__ import annotations

from sqlalchemy import event

from tests.api.conftest import ORDER


def database_away(engine) -> None:
    """Every new connection to the database is refused (the server went away); pooled ones
    are dropped first."""

    def refuse(dialect, conn_rec, cargs, cparams):
        raise dialect.loaded_dbapi.OperationalError("connection refused: the server went away")

    event.listen(engine.sync_engine, "do_connect", refuse)


async def test_a_lost_database_answers_503_with_retry_after(api):
    await api.container.engine.dispose()
    database_away(api.container.engine)
    status, answer, headers = await api.post(ORDER, key="away-1")
    assert status == 503
    assert answer["error"]["code"] == "busy"
    assert int(headers["Retry-After"]) > 0
    status, answer, _ = await api.send("GET", "/v1/orders")
    assert status == 503 and "traceback" not in str(answer).lower()
