"""Fake carriers on 127.0.0.1 (aiohttp, port 0) that answer as the real ones document.

Each fake checks the credentials the way its carrier does, answers from the recordings in
tests/outside/recordings/<carrier>/ by track code, counts requests per code, and can be told
to fail the next N requests: 401, 429 with Retry-After, 500, a timeout (the request is held
until the fake stops, so the client's own time limit fires), garbage, or a huge answer. A
test can also put any body in place of one code's answer (`answer_with`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import defusedxml.ElementTree as SafeXml
from aiohttp import web

RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"
FAILURES = ("401", "429", "500", "timeout", "garbage", "huge")
GARBAGE = b"<html>\x00\xff\xfe not what the documentation promised {{"
HUGE_BYTES = 1536 * 1024  # over the adapters' 1 MiB cap, under the transport's 2 MiB


@dataclass(frozen=True)
class Canned:
    status: int
    body: bytes
    content_type: str = "application/json"


class FakeCarrier:
    """The loopback server and the failure switchboard every fake shares."""

    name = ""
    content_type = "application/json"

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()  # per track code
        self.total = 0
        self.retry_after = "7"
        self._failures: deque[str | None] = deque()
        self._overrides: dict[str, Canned] = {}
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- the switchboard ---------------------------------------------------------------------

    def fail_next(self, count: int, how: str, *, after: int = 0) -> None:
        """The next `count` requests fail `how`, once `after` more have been answered."""
        if how not in FAILURES:
            raise ValueError(how)
        self._failures.extend([None] * after + [how] * count)

    def answer_with(self, code: str, body: bytes, status: int = 200) -> None:
        self._overrides[code] = Canned(status, body, self.content_type)

    def recording(self, name: str) -> bytes:
        return (RECORDINGS / self.name / name).read_bytes()

    # -- the server --------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.total += 1
        codes = self.codes_in(request, body)
        self.requests.update(codes)
        failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            return await self._fail(failure)
        for code in codes:
            if code in self._overrides:
                canned = self._overrides[code]
                return web.Response(
                    status=canned.status, body=canned.body, content_type=canned.content_type
                )
        return await self.answer(request, body)

    async def _fail(self, how: str) -> web.StreamResponse:
        if how == "timeout":
            await self._release.wait()
            return web.Response(status=504)
        if how == "garbage":
            return web.Response(body=GARBAGE, content_type=self.content_type)
        if how == "huge":
            return web.Response(body=self.huge_body(), content_type=self.content_type)
        if how == "429":
            return web.Response(status=429, headers={"Retry-After": self.retry_after})
        return web.Response(status=int(how), text="failure asked for by the test")

    # -- per carrier -------------------------------------------------------------------------

    def codes_in(self, request: web.Request, body: bytes) -> list[str]:
        raise NotImplementedError

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        raise NotImplementedError

    def huge_body(self) -> bytes:
        return json.dumps([{"Name": "x" * 1000, "Date": "2024-01-01 00:00:00"}] * 1600).encode()

    def json_response(self, value: Any, status: int = 200) -> web.Response:
        return web.json_response(
            value, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False)
        )

    def raw(self, name: str, status: int = 200) -> web.Response:
        return web.Response(
            status=status, body=self.recording(name), content_type=self.content_type
        )


class FakeRussianPost(FakeCarrier):
    """tracking.russianpost.ru/rtm34: getOperationHistory, login and password in the body."""

    name = "russian_post"
    content_type = "application/soap+xml"
    DATA = "{http://russianpost.org/operationhistory/data}"

    def __init__(self, login: str = "shop-login", password: str = "s3cret&<pass>") -> None:
        super().__init__()
        self.login = login
        self.password = password
        self.rejected: set[str] = set()  # codes answered with an OperationHistoryFault

    def _fields(self, body: bytes) -> dict[str, str]:
        try:
            root = SafeXml.fromstring(body, forbid_dtd=True)
        except Exception:
            return {}
        return {
            name: root.findtext(f".//{self.DATA}{name}") or ""
            for name in ("Barcode", "login", "password", "MessageType")
        }

    def codes_in(self, request: web.Request, body: bytes) -> list[str]:
        barcode = self._fields(body).get("Barcode")
        return [barcode] if barcode else []

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        fields = self._fields(body)
        if request.method != "POST" or not fields.get("Barcode"):
            return web.Response(status=400, text="not a getOperationHistory request")
        if (fields["login"], fields["password"]) != (self.login, self.password):
            return self.raw("fault_authorization.xml", status=500)
        barcode = fields["Barcode"]
        if barcode in self.rejected:
            return self.raw("fault_history.xml", status=500)
        if (RECORDINGS / self.name / f"{barcode}.xml").exists():
            return self.raw(f"{barcode}.xml")
        return self.raw("empty.xml")

    def huge_body(self) -> bytes:
        record = self.recording("RA123456785RU.xml").split(b"<ns3:historyRecord>")[1]
        record = b"<ns3:historyRecord>" + record.split(b"</ns3:historyRecord>")[0]
        record += b"</ns3:historyRecord>"
        head, tail = self.recording("empty.xml").split(b"</ns3:OperationHistoryData>")
        copies = HUGE_BYTES // len(record) + 1
        return head + record * copies + b"</ns3:OperationHistoryData>" + tail


class FakeCdek(FakeCarrier):
    """api.cdek.ru: OAuth client credentials, orders by cdek_number, webhook subscriptions."""

    name = "cdek"

    def __init__(self, client_id: str = "shop-client", client_secret: str = "shop-secret") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = 3600
        self.token_requests = 0
        self.valid_tokens: set[str] = set()
        self.webhooks: list[dict] = []
        self._serial = itertools.count(1)

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (CDEK's tokens can expire early)."""
        self.valid_tokens.clear()

    def codes_in(self, request: web.Request, body: bytes) -> list[str]:
        number = request.query.get("cdek_number")
        return [number] if request.path == "/v2/orders" and number else []

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        if request.path == "/v2/oauth/token" and request.method == "POST":
            return self._token(request, body)
        bearer = request.headers.get("Authorization", "")
        if not bearer.startswith("Bearer ") or bearer[7:] not in self.valid_tokens:
            return self.raw("unauthorized.json", status=401)
        if request.path == "/v2/orders" and request.method == "GET":
            number = request.query.get("cdek_number", "")
            if (RECORDINGS / self.name / f"{number}.json").exists():
                return self.raw(f"{number}.json")
            text = self.recording("not_found.json").decode().replace("{number}", number)
            return web.Response(status=400, text=text, content_type="application/json")
        if request.path == "/v2/webhooks" and request.method == "POST":
            subscription = json.loads(body)
            if set(subscription) != {"url", "type"}:
                return self.json_response(
                    {
                        "requests": [
                            {
                                "state": "INVALID",
                                "errors": [
                                    {"code": "v2_bad_request", "message": "unexpected fields"}
                                ],
                            }
                        ]
                    },
                    status=400,
                )
            self.webhooks.append(subscription)
            return self.raw("webhook_created.json")
        return web.Response(status=404)

    def _token(self, request: web.Request, body: bytes) -> web.Response:
        self.token_requests += 1
        given = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        given.update(request.query)
        if (given.get("grant_type"), given.get("client_id"), given.get("client_secret")) != (
            "client_credentials",
            self.client_id,
            self.client_secret,
        ):
            return self.raw("token_refused.json", status=401)
        token = f"token-{next(self._serial)}"
        self.valid_tokens.add(token)
        answer = json.loads(self.recording("token.json"))
        answer.update(access_token=token, expires_in=self.token_lifetime)
        return self.json_response(answer)


class FakeBoxberry(FakeCarrier):
    """api.boxberry.ru/json.php: the token and the method in the query, errors as {"err"}."""

    name = "boxberry"

    def __init__(self, token: str = "boxberry-token") -> None:
        super().__init__()
        self.token = token

    def codes_in(self, request: web.Request, body: bytes) -> list[str]:
        code = request.query.get("ImId")
        return [code] if code else []

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        if request.query.get("token") != self.token:
            return self.raw("bad_token.json")
        if request.query.get("method") != "ListStatuses":
            return self.raw("unknown_method.json")
        code = request.query.get("ImId", "")
        if (RECORDINGS / self.name / f"{code}.json").exists():
            return self.raw(f"{code}.json")
        return self.raw("not_found.json")


class FakeNovaPoshta(FakeCarrier):
    """api.novaposhta.ua/v2.0/json/: apiKey in the JSON body, up to 100 documents."""

    name = "nova_poshta"

    def __init__(self, api_key: str = "np-api-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.phones: list[str | None] = []
        self._step: Counter[str] = Counter()

    def _request(self, body: bytes) -> dict:
        try:
            value = json.loads(body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _documents(self, body: bytes) -> list[dict]:
        properties = self._request(body).get("methodProperties") or {}
        documents = properties.get("Documents") if isinstance(properties, dict) else None
        return [d for d in documents or [] if isinstance(d, dict)]

    def codes_in(self, request: web.Request, body: bytes) -> list[str]:
        return [str(d.get("DocumentNumber")) for d in self._documents(body)]

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        asked = self._request(body)
        if asked.get("apiKey") != self.api_key:
            return self.raw("auth_fail.json")
        if (asked.get("modelName"), asked.get("calledMethod")) != (
            "TrackingDocument",
            "getStatusDocuments",
        ):
            return web.Response(status=400)
        documents = self._documents(body)
        if len(documents) > 100:
            return self.raw("too_many_documents.json")
        data = []
        for document in documents:
            number = str(document.get("DocumentNumber"))
            self.phones.append(document.get("Phone"))
            path = RECORDINGS / self.name / f"{number}.json"
            if path.exists():
                states = json.loads(path.read_bytes())
                data.append(states[min(self._step[number], len(states) - 1)])
                self._step[number] += 1
            else:
                text = self.recording("not_found.json").decode().replace("{number}", number)
                data.append(json.loads(text))
        envelope = json.loads(self.recording("envelope.json"))
        envelope["data"] = data
        return self.json_response(envelope)

    def huge_body(self) -> bytes:
        envelope = json.loads(self.recording("envelope.json"))
        envelope["data"] = [{"Number": "1" * 14, "Status": "x" * 1000}] * 1600
        return json.dumps(envelope).encode()
