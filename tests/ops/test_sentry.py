"""Sentry is optional (SENTRY_DSN) and gets no personal data and no secret: every string of an
event is scrubbed (tokens, link tokens, reply addresses, e-mail addresses, phones, the
settings' secrets) before it leaves. A real SDK posts to a fake ingest server on loopback."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.logs import scrub_text, sentry_scrubber

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "123456789:AAHk2xCmQp9LxVqUvW3yZb7Rt5NfGhJkLmN"
SECRET_KEY = "a-long-random-secret-key-value"


def test_the_scrubber_removes_secrets_and_contact_details():
    text = (
        f"POST https://api.telegram.org/bot{BOT_TOKEN}/sendMessage failed for "
        "ivan.petrov@example.com (+79161234567, 89161234567) via "
        "reply+17.0123456789abcdef01234567@shop.example, link /l/eyJhbGci.abc_DEF-1, "
        "Authorization: Bearer sbk_hYtZa3zgqJVoY7Y1Odu5-A0QRwiq, "
        f"db postgresql://shopbot:pa55word@db:5432/x, key {SECRET_KEY}; order #17 at 2026-11-24"
    )
    scrubbed = scrub_text(text, (SECRET_KEY,))
    for gone in (
        BOT_TOKEN,
        "ivan.petrov",
        "+79161234567",
        "89161234567",
        "0123456789abcdef",
        "eyJhbGci",
        "sbk_hYtZa3",
        "pa55word",
        SECRET_KEY,
    ):
        assert gone not in scrubbed
    assert "order #17 at 2026-11-24" in scrubbed  # what helps to debug stays


def test_an_event_loses_its_user_and_request_details():
    event = {
        "user": {"id": 7, "ip_address": "203.0.113.9"},
        "request": {"url": "/api/v1/orders", "headers": {"Authorization": "Bearer x"}},
        "exception": {"values": [{"value": "no buyer ivan@example.com"}]},
    }
    cleaned = sentry_scrubber(())(event, {})
    assert "user" not in cleaned and "headers" not in cleaned["request"]
    assert cleaned["exception"]["values"][0]["value"] == "no buyer [e-mail]"


class Ingest(BaseHTTPRequestHandler):
    """Sentry's envelope endpoint (develop.sentry.dev, "Envelopes"): POST
    /api/<project_id>/envelope/, the body possibly gzip- or deflate-encoded; answers 200 with
    the event id, as Sentry does."""

    received: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        if self.path.endswith("/envelope/"):
            Ingest.received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"id": "0" * 32}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def ingest():
    Ingest.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://public@127.0.0.1:{server.server_address[1]}/42"
    server.shutdown()
    server.server_close()
    thread.join()


SCRIPT = """
import logging, sys
import sentry_sdk
from bot.logs import setup_logging, setup_sentry
setup_logging("INFO")
setup_sentry(sys.argv[1], secrets=(sys.argv[2],))
log = logging.getLogger("bot.test")
log.info("mail from buyer@example.com to reply+5.0123456789abcdef01234567@shop.example")
try:
    raise ValueError("no order for +79161234567, key " + sys.argv[2])
except ValueError:
    log.exception("the webhook of ivan@example.com failed with %s", sys.argv[3])
sentry_sdk.flush(10)
"""


def test_an_error_reaches_sentry_without_personal_data(ingest):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, ingest, SECRET_KEY, BOT_TOKEN],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    sent = b"".join(Ingest.received).decode("utf-8", "replace")
    assert '"type":"event"' in sent.replace(" ", "")  # the error arrived
    assert "ValueError" in sent and "the webhook of [e-mail] failed" in sent
    for leaked in (
        "buyer@example.com",
        "ivan@example.com",
        "+79161234567",
        "0123456789abcdef",
        SECRET_KEY,
        BOT_TOKEN,
    ):
        assert leaked not in sent
