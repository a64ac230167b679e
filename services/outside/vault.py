"""Credentials shops give us (provider keys, carrier logins, platform secrets), encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) with keys derived from the
deployment's SECRET_KEY values by HKDF, so no second secret needs managing. Several keys
may be given (SECRET_KEY rotation): the first encrypts, any of them decrypts, and
`reseal` moves a value onto the first key. A sealed value never leaves the database and is
never logged; what was sealed with a key no longer configured cannot be read (VaultError).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"shopbot credentials v1"


class VaultError(Exception):
    """A sealed value that none of the configured keys opens (changed, or a retired key)."""


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


class Vault:
    def __init__(self, secrets: Sequence[str]):
        keys = [s for s in secrets if s]
        if not keys:
            raise ValueError("the vault needs at least one secret key")
        fernets = [_fernet(s) for s in keys]
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError, UnicodeDecodeError) as error:
            raise VaultError("a stored credential could not be decrypted") from error

    def reseal(self, sealed: str) -> str:
        """The same value under the first (newest) key."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except (InvalidToken, ValueError) as error:
            raise VaultError("a stored credential could not be decrypted") from error

    def is_newest(self, sealed: str) -> bool:
        """Whether the first (newest) key opens it: nothing for `reseal` to move."""
        try:
            self._newest.decrypt(sealed.encode())
        except (InvalidToken, ValueError):
            return False
        return True

    def __repr__(self) -> str:  # never shows a key
        return "Vault(…)"
