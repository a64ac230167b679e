"""The desk (the Mini App in a desktop browser): single-use login links and the sessions
they open.

Inside Telegram the Mini App proves who is asking with Telegram's signed initData on every
request and needs no rows. A desktop browser has no initData: `/web` in the bot gives a
link that works once within minutes, and opening it starts a session kept in a cookie.
Only hashes of the link's and the cookie's secrets are stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class DeskLoginLink(Base):
    """A `/web` link: whoever opens it first, before it expires, is signed in as `user_id`."""

    __tablename__ = "desk_login_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class DeskSession(Base):
    """A signed-in desktop browser; the cookie holds the secret, this row its hash."""

    __tablename__ = "desk_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]  # signed out
