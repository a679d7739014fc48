"""The real stack for the system tests: a private PostgreSQL cluster and a private Redis on their own
ports (the shared servers are never touched), a local SMTP sink, and the processes of deploy/Procfile
started as `make serve` starts them, each one a process group that a test can kill and restart."""

import contextlib
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else (shutil.which(name) or name)


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PrivatePostgres:
    """A throwaway cluster under `directory` on `port`: trust auth on loopback, fsync on (a restart
    must keep every committed row, as a real one does)."""

    def __init__(self, port: int | None = None):
        # its own folder under /tmp: the postgres user cannot enter pytest's root-only tmp_path
        self.directory = Path(tempfile.mkdtemp(prefix="tsunagu-pg-"))
        self.data = self.directory / "data"
        self.port = port or free_port()
        self.log = self.directory / "postgres.log"

    def init(self, **settings) -> "PrivatePostgres":
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run([pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8"])  # fmt: skip
        conf = {"listen_addresses": "'127.0.0.1'", "port": self.port, "unix_socket_directories": f"'{self.directory}'",
                "max_connections": 200, "shared_buffers": "'64MB'", **settings}  # fmt: skip
        with open(self.data / "postgresql.auto.conf", "a") as f:
            f.writelines(f"{key} = {value}\n" for key, value in conf.items())
        return self

    def _run(self, cmd, check=True):
        done = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, timeout=120)
        if check and done.returncode:
            raise AssertionError(f"{cmd[0]} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        return done

    def start(self):
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast"):
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"], check=False)

    def remove(self):
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def restart(self, mode: str = "fast"):
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w", "-t", "60",
                   "restart"])  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-AtqX",
             "-v", "ON_ERROR_STOP=1", "-c", statement],
            check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return out.stdout.strip()


class PrivateRedis:
    def __init__(self, directory: Path, port: int | None = None):
        self.port = port or free_port()
        self.directory = Path(directory)
        self.process = None

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=open(self.directory / "redis.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_until(self._ping, 20, "the private Redis")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "deploy" / "Procfile").read_text().splitlines():
        match = re.match(r"^([\w-]+):\s*(.+)$", line)
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


class Processes:
    """deploy/Procfile's processes with one environment, as honcho runs them, but each killable."""

    def __init__(self, env: dict, logs: Path):
        self.env, self.logs = env, Path(logs)
        self.commands = procfile()
        self.running: dict[str, subprocess.Popen] = {}
        self.logs.mkdir(parents=True, exist_ok=True)

    def start(self, *names: str):
        for name in names or self.commands:
            self.running[name] = subprocess.Popen(
                ["bash", "-c", f"exec {self.commands[name]}"], cwd=ROOT, env=self.env, start_new_session=True,
                stdout=open(self.logs / f"{name}.log", "ab"), stderr=subprocess.STDOUT,
            )  # fmt: skip

    def kill(self, name: str, sig=signal.SIGKILL):
        process = self.running.pop(name)
        os.killpg(process.pid, sig)
        process.wait(30)

    def stop(self):
        for process in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in list(self.running.items()):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
            self.running.pop(name)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


def manage(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def seed(env: dict, **options) -> dict:
    """tests/ops/seed_stack.py in the stack's environment; returns what it made (ids, the API key)."""
    out = subprocess.run(
        [PY, "-m", "tests.ops.seed_stack", json.dumps(options)], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


class Http:
    """A client as an integration behind the balancer sees the service: HTTPS said by the proxy header."""

    def __init__(self, base: str, api_key: str | None = None):
        self.base, self.api_key = base, api_key

    def request(self, method: str, path: str, body=None, headers=None, timeout: float = 30):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("X-Forwarded-Proto", "https")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.api_key:
            request.add_header("Authorization", f"Api-Key {self.api_key}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()
        except (urllib.error.URLError, OSError) as error:  # refused, reset, timed out: no answer at all
            return 0, {}, str(error).encode()

    def json(self, method: str, path: str, body=None, **kwargs):
        status, _, content = self.request(method, path, body, **kwargs)
        try:
            return status, json.loads(content) if content else None
        except ValueError:
            return status, content.decode(errors="replace")
