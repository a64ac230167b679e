"""Settings from the environment and `.env` (DESIGN "Configuration").

The variable names are a contract with operators and deployment scripts. A bad value stops
start-up with a message naming the variable, never a traceback.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class SmtpTls(StrEnum):
    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


class ImapTls(StrEnum):
    TLS = "tls"  # implicit TLS (port 993), what RFC 8314 asks of mail clients
    NONE = "none"  # plain text: a mail server on this host or a private network only


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"  # one JSON object per line, for a log collector


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: SecretStr = SecretStr("")  # from @BotFather; the emulator accepts any
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///data/shopbot.db"
    redis_url: str | None = None  # unset: conversation state in memory (one instance)
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    webhook_url: str | None = None  # unset: long polling
    webhook_secret: SecretStr | None = None
    # Long polling: updates one process handles at once (bot/telegram.py `poll`); the next
    # getUpdates waits for a free place. With a webhook Telegram's own limit holds
    # (setWebhook's max_connections, 40 by default).
    telegram_max_in_flight: int = Field(100, ge=1, le=1000)
    # Order transactions (status changes, new orders, returns) one process runs at once; more
    # wait their turn before taking a connection (services/orders/in_flight.py).
    order_max_in_flight: int = Field(8, ge=1, le=1000)
    smtp_host: str | None = None  # unset: no e-mail is sent
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: SmtpTls = SmtpTls.STARTTLS
    mail_from: str = "shopbot@localhost"
    inbound_smtp_host: str = "127.0.0.1"
    inbound_smtp_port: int = Field(8025, ge=1, le=65535)
    # Buyers' replies go to reply+TOKEN@ this domain (unset: MAIL_FROM's); the mail server
    # of that domain forwards them to the receiver above.
    mail_reply_domain: str | None = None
    inbound_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)  # a bigger e-mail is refused
    # Replies taken per reply address and sender in an hour (0: no limit); more are refused
    # for now (SMTP 450), so a stolen or looping reply address cannot flood a dialog.
    inbound_replies_per_hour: int = Field(20, ge=0)
    # Documents (PDF) are rendered in worker processes: how many at once, the wall time of one
    # render (its worker is killed past it) and each worker's memory (address space) cap.
    document_workers: int = Field(2, ge=1, le=32)
    document_render_seconds: float = Field(10.0, gt=0, le=300)
    document_worker_memory_mb: int = Field(512, ge=128, le=16384)
    # Reply addresses are `<local part>+TOKEN@domain`: with plus addressing, one ordinary
    # mailbox (`reply@domain`, or `myshop@gmail.com`) receives every order's replies.
    mail_reply_local_part: str = "reply"
    # Without an MX record for the reply domain: read the replies from that mailbox by IMAP
    # (unset IMAP_HOST: the SMTP receiver above is the way in).
    imap_host: str | None = None
    imap_port: int = Field(993, ge=1, le=65535)
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_tls: ImapTls = ImapTls.TLS
    imap_folder: str = "INBOX"
    imap_poll_seconds: float = Field(60.0, ge=1, le=3600)
    # The newest key signs links and reply addresses and seals credentials; the previous
    # ones (comma-separated, newest first) are still accepted, so what was sent or sealed
    # before a rotation keeps working (docs/operations.md "Rotating SECRET_KEY").
    secret_key: SecretStr = SecretStr("change-me")
    secret_key_previous: SecretStr | None = None
    # Errors to Sentry (unset: nowhere but the log); never with personal data.
    sentry_dsn: SecretStr | None = None
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.TEXT
    # Storefront webhooks to loopback or private addresses (a storefront on this host or
    # network); off, a shop admin cannot make the bot call into its own network.
    webhooks_to_private_addresses: bool = False
    # The storefront API refuses a bigger request body with 413.
    api_max_body_bytes: int = Field(256 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Storefront API requests one process works on at once; more wait their turn, for at
    # most api_queue_seconds, then are answered 503 busy (handlers/http/api/in_flight.py).
    api_max_in_flight: int = Field(4, ge=1, le=1000)
    api_queue_seconds: float = Field(10.0, gt=0, le=300)
    # Requests per API token per window (0: no limit); counted in Redis when REDIS_URL is set.
    api_rate_limit: int = Field(300, ge=0, le=1_000_000)
    api_rate_window_seconds: float = Field(60.0, gt=0, le=3600)
    # Shopify's Admin API base (unset: each shop's https://<shop>.myshopify.com); tests and
    # the demo point it at a fake on loopback.
    shopify_api_url: str | None = None
    # YooKassa's API base (issue 17); tests and the demo point it at a fake on loopback.
    yookassa_api_url: str = "https://api.yookassa.ru/v3"
    # How often due timers (automatic steps, reminders, time limits) are looked for.
    timer_sweep_seconds: float = Field(30.0, gt=0, le=3600)
    # The carriers' API bases (unset: each carrier's documented production address); tests
    # and the demo point them at fakes on loopback.
    carrier_russian_post_url: str | None = None
    carrier_cdek_url: str | None = None
    carrier_boxberry_url: str | None = None
    carrier_nova_poshta_url: str | None = None
    # How often parcels due for a question are asked about at their carriers.
    tracking_sweep_seconds: float = Field(300.0, gt=0, le=86400)
    # Days without movement after which a parcel's order gets the problem flag, per carrier
    # (JSON, e.g. {"russian_post": 10}); carriers not named keep the defaults.
    carrier_stall_days: dict[str, int] = Field(default_factory=dict)

    @property
    def carrier_urls(self) -> dict[str, str]:
        urls = {
            "russian_post": self.carrier_russian_post_url,
            "cdek": self.carrier_cdek_url,
            "boxberry": self.carrier_boxberry_url,
            "nova_poshta": self.carrier_nova_poshta_url,
        }
        return {name: url for name, url in urls.items() if url}

    @property
    def reply_domain(self) -> str:
        return self.mail_reply_domain or self.mail_from.rpartition("@")[2] or "localhost"

    @property
    def secret_keys(self) -> list[str]:
        """Every accepted key, the signing one first."""
        previous = self.secret_key_previous.get_secret_value() if self.secret_key_previous else ""
        keys = [self.secret_key.get_secret_value()]
        keys += [key.strip() for key in previous.split(",") if key.strip()]
        return list(dict.fromkeys(keys))

    @field_validator("carrier_stall_days")
    @classmethod
    def _stall_days(cls, value: dict[str, int]) -> dict[str, int]:
        known = ("russian_post", "cdek", "boxberry", "nova_poshta")
        for name, days in value.items():
            if name not in known:
                raise ValueError(f"no carrier {name!r}: use {', '.join(known)}")
            if not 1 <= days <= 365:
                raise ValueError(f"{name}: 1 to 365 days")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as error:
            raise ValueError(f"not a database URL: {value!r}") from error
        if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError("use sqlite+aiosqlite:///path or postgresql+asyncpg://...")
        return value

    @field_validator(
        "telegram_api_url",
        "public_url",
        "webhook_url",
        "shopify_api_url",
        "yookassa_api_url",
        "carrier_russian_post_url",
        "carrier_cdek_url",
        "carrier_boxberry_url",
        "carrier_nova_poshta_url",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's rule for secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("use 1-256 characters: letters, digits, _ and -")
        return value

    @field_validator("mail_reply_local_part")
    @classmethod
    def _local_part(cls, value: str) -> str:
        # Mail servers may lower-case local parts; "+" separates the token.
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,39}", value):
            raise ValueError("use 1-40 lower-case letters, digits, '.', '_' or '-' (no '+')")
        return value

    @field_validator("imap_folder")
    @classmethod
    def _imap_folder(cls, value: str) -> str:
        if not value or not value.isprintable() or '"' in value or "\\" in value:
            raise ValueError("a mailbox name without quotes or backslashes")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError(
                "WEBHOOK_SECRET: set it with WEBHOOK_URL (anyone could post updates otherwise)"
            )
        if self.webhook_url and "public_url" not in self.model_fields_set:
            raise ValueError(
                "PUBLIC_URL: set it with WEBHOOK_URL (the links in e-mails point at it; "
                "the default is this machine's loopback)"
            )
        if self.imap_host and not (self.imap_user and self.imap_password):
            raise ValueError("IMAP_USER, IMAP_PASSWORD: set both with IMAP_HOST")
        return self

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value


class SettingsError(Exception):
    """Settings that cannot start the bot; the message names each bad variable."""


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    try:
        return Settings(_env_file=env_file)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            variable = "_".join(str(part) for part in problem["loc"]).upper()
            if variable:
                lines.append(f"{variable}: {problem['msg']}")
            else:  # a rule across variables names them in its message
                lines.append(problem["msg"].removeprefix("Value error, "))
        raise SettingsError("bad settings:\n  " + "\n  ".join(lines)) from None
