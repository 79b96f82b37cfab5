"""Settings: one table of them; values come from `performer.toml` < `PERFORMER_*` < flags.

The README's settings table is checked against `SETTINGS` by a test, so the docs cannot drift.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from performer_edge.errors import ConfigError

ENV_PREFIX = "PERFORMER_"
CONFIG_FILE = "performer.toml"


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    secret: bool = False

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("data", Path, Path("./performer-data"), "data directory (event log, keys, blobs)"),
    Setting("host", str, "127.0.0.1", "address to listen on"),
    Setting("port", int, 54321, "port to listen on (0 picks a free one)", minimum=0, maximum=65535),
    Setting(
        "jwt_secret",
        str,
        None,
        "sign and verify HS256 with this secret instead of the node's ES256 key "
        "(for projects that bring Supabase's local-development keys)",
        secret=True,
    ),
    Setting(
        "synchronous",
        str,
        "FULL",
        "SQLite synchronous mode; FULL makes every acknowledged write survive power loss",
        choices=("OFF", "NORMAL", "FULL", "EXTRA"),
    ),
    Setting("log_level", str, "INFO", "log level", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    Setting(
        "log_format",
        str,
        "json",
        "request and node logs as JSON lines or plain text",
        choices=("json", "text"),
    ),
    Setting(
        "cors_origins",
        str,
        "*",
        "comma-separated origins allowed to call the APIs from a browser, or *",
    ),
    Setting(
        "bus_queue_size",
        int,
        1024,
        "events a realtime subscriber may fall behind before it is dropped",
        minimum=1,
    ),
    Setting(
        "max_clock_skew_ms",
        int,
        60_000,
        "how far a peer's event time may pull this node's clock ahead of its wall clock",
        minimum=0,
    ),
    Setting(
        "realtime_retention",
        int,
        86_400,
        "seconds back that SSE resume (Last-Event-ID) and broadcast.replay reach into the log",
        minimum=0,
    ),
    Setting(
        "stream_snapshot_every",
        int,
        100,
        "events of a stream between the snapshots the node makes of it (0: only on request)",
        minimum=0,
    ),
    Setting(
        "stream_snapshot_keep",
        int,
        3,
        "newest snapshots kept per stream (older ones are deleted)",
        minimum=1,
    ),
    Setting("write_group_max", int, 1024, "most write requests committed together", minimum=1),
    Setting("max_body_bytes", int, 50 * 1024 * 1024, "largest request body accepted", minimum=1),
    Setting(
        "storage_max_file_bytes",
        int,
        5 * 1024**3,
        "largest object an upload may store (a bucket's file_size_limit may say less); "
        "uploads stream to disk, so memory does not grow with it",
        minimum=1,
    ),
    Setting(
        "storage_gc_interval",
        int,
        3600,
        "seconds between passes collecting blobs no object references (0: only "
        "`performer storage gc`)",
        minimum=0,
    ),
    Setting(
        "storage_gc_grace",
        int,
        3600,
        "seconds a new blob is kept before gc may collect it unreferenced",
        minimum=60,
    ),
    Setting(
        "storage_resumable_expiry",
        int,
        86400,
        "seconds a resumable (TUS) upload may sit idle before it expires and its data is removed",
        minimum=1,
    ),
    Setting(
        "migrations",
        Path,
        None,
        "directory of .sql migrations applied (each once, in name order) when the node starts",
    ),
    Setting(
        "site_url",
        str,
        "http://localhost:3000",
        "the app's URL: where email links send users when no redirect_to is given",
    ),
    Setting(
        "api_url",
        str,
        None,
        "the URL clients reach this node at, for links in emails (default: http://HOST:PORT)",
    ),
    Setting(
        "auth_redirect_urls",
        str,
        "",
        "comma-separated URL patterns (* wildcards) that email links may redirect to, besides "
        "the site URL's origin",
    ),
    Setting("jwt_expiry", int, 3600, "seconds an access token is valid", minimum=30),
    Setting("auth_autoconfirm", bool, True, "sign-ups are confirmed at once, no email needed"),
    Setting("auth_signup_enabled", bool, True, "new users may sign up"),
    Setting("auth_anonymous_enabled", bool, True, "anonymous sign-ins are allowed"),
    Setting("auth_password_min_length", int, 6, "shortest password accepted", minimum=1),
    Setting(
        "auth_refresh_reuse_interval",
        int,
        10,
        "seconds during which a just-rotated refresh token may be reused (concurrent tabs); "
        "reuse after that revokes the session",
        minimum=0,
    ),
    Setting("auth_otp_expiry", int, 3600, "seconds an email link or code stays valid", minimum=30),
    Setting(
        "auth_rate_limit_ip",
        int,
        30,
        "sign-ins, sign-ups, OTP and verify requests per IP per 5 minutes (each)",
        minimum=1,
    ),
    Setting(
        "auth_rate_limit_email",
        int,
        10,
        "sign-ins, OTP, recovery and verify requests per email address per 5 minutes",
        minimum=1,
    ),
    Setting("auth_rate_limit_refresh", int, 150, "token refreshes per IP per 5 minutes", minimum=1),
    Setting(
        "smtp_host", str, None, "SMTP server for auth emails (none: emails stay in the outbox)"
    ),
    Setting("smtp_port", int, 587, "SMTP port (465 uses TLS, others STARTTLS when offered)"),
    Setting("smtp_user", str, None, "SMTP user name"),
    Setting("smtp_password", str, None, "SMTP password", secret=True),
    Setting("smtp_sender", str, "Performer <noreply@localhost>", "From: address of auth emails"),
    Setting(
        "peer",
        tuple,
        (),
        "a peer to dial and keep syncing with (repeatable; comma-separated in the environment); "
        "http://HOST:PORT for WebSocket, sse+http://HOST:PORT for SSE down + POST up",
    ),
    Setting("hub", str, None, "a hub to dial and keep syncing with (same URL forms as peer)"),
    Setting(
        "discovery",
        bool,
        True,
        "find peers of the same cluster on the LAN (mDNS) and sync with them; --no-discovery",
    ),
    Setting(
        "compact_interval",
        int,
        0,
        "seconds between automatic log compactions (0: off; `performer compact` by hand)",
        minimum=0,
    ),
    Setting(
        "compact_keep_events",
        int,
        10_000,
        "newest events of each origin an automatic compaction keeps in the log",
        minimum=0,
    ),
    Setting(
        "cluster_join_rate_limit",
        int,
        20,
        "cluster join attempts per IP per 5 minutes (POST /performer/v1/cluster/join)",
        minimum=1,
    ),
)

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    data: Path = Path("./performer-data")
    host: str = "127.0.0.1"
    port: int = 54321
    jwt_secret: str | None = None
    synchronous: str = "FULL"
    log_level: str = "INFO"
    log_format: str = "json"
    cors_origins: str = "*"
    bus_queue_size: int = 1024
    max_clock_skew_ms: int = 60_000
    realtime_retention: int = 86_400
    stream_snapshot_every: int = 100
    stream_snapshot_keep: int = 3
    write_group_max: int = 1024
    max_body_bytes: int = 50 * 1024 * 1024
    storage_max_file_bytes: int = 5 * 1024**3
    storage_gc_interval: int = 3600
    storage_gc_grace: int = 3600
    storage_resumable_expiry: int = 86400
    migrations: Path | None = None
    site_url: str = "http://localhost:3000"
    api_url: str | None = None
    auth_redirect_urls: str = ""
    jwt_expiry: int = 3600
    auth_autoconfirm: bool = True
    auth_signup_enabled: bool = True
    auth_anonymous_enabled: bool = True
    auth_password_min_length: int = 6
    auth_refresh_reuse_interval: int = 10
    auth_otp_expiry: int = 3600
    auth_rate_limit_ip: int = 30
    auth_rate_limit_email: int = 10
    auth_rate_limit_refresh: int = 150
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "Performer <noreply@localhost>"
    peer: tuple[str, ...] = ()
    hub: str | None = None
    discovery: bool = True
    compact_interval: int = 0
    compact_keep_events: int = 10_000
    cluster_join_rate_limit: int = 20

    @property
    def public_url(self) -> str:
        """Where clients reach this node, for links the node hands out."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge the three sources. `flags` holds only options the user actually gave."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or _env_config_path(env)
    if path is None and Path(CONFIG_FILE).is_file():
        path = Path(CONFIG_FILE)
    if path is not None:
        values.update(_read_config_file(path))
    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _coerce(setting, env[setting.env], f"${setting.env}")
    for name, raw in (flags or {}).items():
        if raw is not None:
            values[name] = _coerce(SETTINGS_BY_NAME[name], raw, SETTINGS_BY_NAME[name].flag)
    return Settings(**values)


def public_view(settings: Settings) -> dict[str, Any]:
    """Settings as shown by `performer status`: secrets masked."""
    shown: dict[str, Any] = {}
    for field_ in fields(settings):
        value = getattr(settings, field_.name)
        if SETTINGS_BY_NAME[field_.name].secret and value:
            value = "********"
        shown[field_.name] = str(value) if isinstance(value, Path) else value
    return shown


def _env_config_path(env: Mapping[str, str]) -> Path | None:
    raw = env.get(ENV_PREFIX + "CONFIG")
    return Path(raw) if raw else None


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    values: dict[str, Any] = {}
    for key, raw in document.items():
        setting = SETTINGS_BY_NAME.get(key)
        if setting is None:
            known = ", ".join(sorted(SETTINGS_BY_NAME))
            raise ConfigError(f"config file {path}: unknown setting {key!r} (known: {known})")
        values[key] = _coerce(setting, raw, f"{path}: {key}")
    return values


def _coerce(setting: Setting, raw: Any, where: str) -> Any:
    if raw is None:
        return None
    value: Any
    try:
        if setting.kind is bool:
            value = _parse_bool(raw)
        elif setting.kind is int:
            if isinstance(raw, bool):
                raise ValueError("a boolean is not a number")
            value = int(raw)
        elif setting.kind is tuple:
            value = _parse_list(raw)
        elif setting.kind is Path:
            if not isinstance(raw, str | Path):
                raise ValueError("expected a path")
            value = Path(raw)
        else:
            if not isinstance(raw, str):
                raise ValueError("expected a string")
            value = raw
    except ValueError as exc:
        raise ConfigError(f"{where}: invalid value {raw!r} for {setting.name}: {exc}") from exc
    if setting.choices:
        matched = [c for c in setting.choices if c.lower() == str(value).lower()]
        if not matched:
            raise ConfigError(
                f"{where}: {setting.name} must be one of {', '.join(setting.choices)}, not {raw!r}"
            )
        value = matched[0]
    if setting.minimum is not None and value < setting.minimum:
        raise ConfigError(f"{where}: {setting.name} must be at least {setting.minimum}")
    if setting.maximum is not None and value > setting.maximum:
        raise ConfigError(f"{where}: {setting.name} must be at most {setting.maximum}")
    return value


def _parse_list(raw: Any) -> tuple[str, ...]:
    """A repeatable setting: a list (flags, TOML array) or one comma-separated string."""
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError("expected a list of strings")
    return tuple(i.strip() for i in items if i.strip())


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")
