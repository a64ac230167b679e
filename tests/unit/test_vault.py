"""The vault: what a shop gives us is unreadable at rest, opens with any configured key, and a
retired key's values do not open."""

from __future__ import annotations

import pytest

from services.outside.vault import Vault, VaultError


def test_a_sealed_value_opens_and_does_not_show_it():
    vault = Vault(["first-secret"])
    sealed = vault.seal("sk_live_42")
    assert "sk_live_42" not in sealed
    assert vault.open(sealed) == "sk_live_42"
    assert vault.seal("sk_live_42") != sealed  # a fresh IV each time
    assert "first-secret" not in repr(vault)


def test_rotation_reads_old_values_and_reseals_them_with_the_new_key():
    old = Vault(["old-secret"])
    sealed = old.seal("token")
    rotated = Vault(["new-secret", "old-secret"])
    assert rotated.open(sealed) == "token"
    moved = rotated.reseal(sealed)
    assert Vault(["new-secret"]).open(moved) == "token"
    with pytest.raises(VaultError):
        Vault(["new-secret"]).open(sealed)


@pytest.mark.parametrize("sealed", ["", "garbage", "gAAAAAB" + "A" * 80])
def test_tampered_values_are_refused_without_detail(sealed):
    with pytest.raises(VaultError, match="could not be decrypted"):
        Vault(["key"]).open(sealed)


def test_a_vault_needs_a_key():
    with pytest.raises(ValueError):
        Vault(["", ""])
