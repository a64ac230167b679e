"""How a model marks the columns that hold credentials sealed with the vault.

`python -m bot secrets reseal` moves every sealed value onto the newest SECRET_KEY after a
rotation; it finds them through these marks, so a feature that adds a sealed column only
marks it and the command covers it:

    api_key: Mapped[str] = mapped_column(Text, info=SEALED)
    credentials: Mapped[dict[str, Any]] = mapped_column(info=sealed_keys("password", "token"))

The first form: the whole value is sealed. The second: a JSON object column some of whose
keys hold sealed strings (the others are left as they are).
"""

from __future__ import annotations

from typing import Any

INFO_KEY = "sealed"  # Column.info key: True, or the JSON keys whose values are sealed

SEALED: dict[str, Any] = {INFO_KEY: True}


def sealed_keys(*keys: str) -> dict[str, Any]:
    if not keys:
        raise ValueError("name the JSON keys that hold sealed values")
    return {INFO_KEY: tuple(keys)}
