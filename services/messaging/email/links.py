"""Signed tokens in e-mails: the reply address of an order, and one-click action links (D2, D3).

Both are HMAC-SHA256 over what they claim, with the deployment's SECRET_KEY, so nothing needs
storing to check them and nobody can make one for another order; they are compared in
constant time. An action link also carries its expiry and a random nonce: the nonce is
recorded when the link is used (`used_links`, in the transaction of the change), so a link
works once.

Reply tokens live in an e-mail address's local part (`reply+TOKEN@domain`), which mail
servers may lower-case: they are lower-case hex only. The part before "+" is the mailbox
that receives them (plus addressing), `reply` unless the operator names another.

Several keys may be given (SECRET_KEY rotation): the first signs, every one verifies, so
the links and reply addresses in e-mails sent before a rotation keep working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

REPLY_PREFIX = "reply+"
REPLY_MAC_CHARS = 24  # 96 bits of the MAC: guessing one is hopeless
LINK_LIFETIME = timedelta(days=30)
_REPLY = re.compile(rf"^(\d{{1,10}})\.([0-9a-f]{{{REPLY_MAC_CHARS}}})$")
_ACTION = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_LINK_TOKEN = 200


class LinkProblem(StrEnum):
    TAMPERED = "tampered"  # not made by us, or changed since
    EXPIRED = "expired"
    USED = "used"  # recorded by the order service when the nonce is seen again


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem):
        self.problem = problem
        super().__init__(str(problem))


@dataclass(frozen=True)
class ActionLink:
    """What a one-click link lets its holder do: one action on one order, as its buyer."""

    order_id: int
    buyer_id: int
    action: str  # a workflow action code, or OPEN_IN_TELEGRAM
    expires_at: datetime
    nonce: str


OPEN_IN_TELEGRAM = "open"  # not a workflow action: the page leads to the bot's deep link
DOWNLOAD_INVOICE = "invoice_pdf"  # not a workflow action: the order's invoice as a PDF


class LinkSigner:
    """`secret_keys`: the signing key first, then older keys still accepted (or one key)."""

    def __init__(self, secret_keys: str | Sequence[str], *, reply_mailbox: str = "reply"):
        given = [secret_keys] if isinstance(secret_keys, str) else list(secret_keys)
        given = [secret for secret in given if secret]
        if not given:
            raise ValueError("a secret key is needed to sign links")
        self._keys = [hashlib.sha256(f"shopbot-links:{s}".encode()).digest() for s in given]
        self._key = self._keys[0]
        self._prefix = f"{reply_mailbox.lower()}+" if reply_mailbox else REPLY_PREFIX

    # -- reply addresses ---------------------------------------------------------------------

    def reply_token(self, order_id: int) -> str:
        return f"{order_id}.{self._mac('reply', str(order_id)).hex()[:REPLY_MAC_CHARS]}"

    def reply_address(self, order_id: int, domain: str) -> str:
        return f"{self._prefix}{self.reply_token(order_id)}@{domain}"

    def order_of_reply(self, address: str, domain: str) -> int | None:
        """The order a reply address stands for; None if it is not one of ours, or forged."""
        local, at, host = address.strip().strip("<>").rpartition("@")
        if not at or host.lower() != domain.lower() or not local.lower().startswith(self._prefix):
            return None
        match = _REPLY.match(local[len(self._prefix) :].lower())
        if match is None:
            return None
        order_id = int(match.group(1))
        given = match.group(2)
        # Every key is tried (no early exit), so the time taken says nothing of which matched.
        macs = [self._mac("reply", str(order_id), k).hex()[:REPLY_MAC_CHARS] for k in self._keys]
        matches = [hmac.compare_digest(mac, given) for mac in macs]
        return order_id if any(matches) else None

    # -- one-click links ---------------------------------------------------------------------

    def action_token(
        self,
        order_id: int,
        buyer_id: int,
        action: str,
        now: datetime,
        lifetime: timedelta = LINK_LIFETIME,
    ) -> str:
        if not _ACTION.match(action):
            raise ValueError(f"not an action code: {action!r}")
        expires = int((now + lifetime).timestamp())
        nonce = secrets.token_hex(8)
        claim = f"{order_id}.{buyer_id}.{action}.{expires}.{nonce}"
        body = base64.urlsafe_b64encode(claim.encode()).decode().rstrip("=")
        mac = base64.urlsafe_b64encode(self._mac("action", claim)[:18]).decode()
        return f"{body}.{mac}"

    def read_action(self, token: str, now: datetime) -> ActionLink:
        """The link's claim, if we made it and it has not expired (use is checked on use)."""
        if not token or len(token) > MAX_LINK_TOKEN:
            raise LinkRefused(LinkProblem.TAMPERED)
        body, dot, mac = token.partition(".")
        try:
            claim = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
            given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        except (ValueError, UnicodeDecodeError):
            raise LinkRefused(LinkProblem.TAMPERED) from None
        matches = [
            hmac.compare_digest(self._mac("action", claim, key)[:18], given) for key in self._keys
        ]
        if not dot or not any(matches):
            raise LinkRefused(LinkProblem.TAMPERED)
        try:
            order_id, buyer_id, action, expires, nonce = claim.split(".")
            link = ActionLink(
                int(order_id),
                int(buyer_id),
                action,
                datetime.fromtimestamp(int(expires), UTC),
                nonce,
            )
        except ValueError:
            raise LinkRefused(LinkProblem.TAMPERED) from None
        if now >= link.expires_at:
            raise LinkRefused(LinkProblem.EXPIRED)
        return link

    def _mac(self, purpose: str, message: str, key: bytes | None = None) -> bytes:
        return hmac.new(key or self._key, f"{purpose}:{message}".encode(), hashlib.sha256).digest()
