"""What the operations middleware adds to each request (issue 16): request id, metrics, access log.

Two measures, each interleaved round by round so that the shared machine's load falls on all variants:
1. in-process: Django's WSGI handler called directly on a trivial view, CPU µs per request;
2. served: gunicorn (1 sync worker) under wrk on 127.0.0.1, requests/s of the trivial view and of a
   view running one `SELECT 1` (which adds the metered database backend's cost).

Variants: none (no operations middleware, plain database backend), ops (as shipped), ops with the
access log on, and library (django-prometheus' stock Before/After middleware pair with django-guid).

    .venv/bin/python bench/ops_overhead.py [--rounds 5] [--seconds 8]

BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) is only asked `SELECT 1`.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {  # name: environment
    "none": {"BENCH_OPS": "none", "BENCH_DB_METRICS": "0"},
    "request id only": {"BENCH_OPS": "request id only", "BENCH_DB_METRICS": "0"},
    "django-guid's middleware instead": {"BENCH_OPS": "django-guid", "BENCH_DB_METRICS": "0"},
    "request metrics only": {"BENCH_OPS": "metrics only", "BENCH_DB_METRICS": "0"},
    "ops (as shipped)": {"BENCH_OPS": "ops", "BENCH_DB_METRICS": "1"},
    "ops + ACCESS_LOG=true": {"BENCH_OPS": "ops", "BENCH_DB_METRICS": "1", "ACCESS_LOG": "true"},
    "library middleware pair": {"BENCH_OPS": "library", "BENCH_DB_METRICS": "1"},
}


def base_env() -> dict:
    return {
        **os.environ, "DJANGO_SETTINGS_MODULE": "bench.ops_settings", "DEBUG": "false",
        "SECRET_KEY": "bench-only-not-secret", "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT),
    }  # fmt: skip


IN_PROCESS = r"""
import io, os, sys, time, django
django.setup()
from django.core.handlers.wsgi import WSGIHandler
handler = WSGIHandler()
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": sys.argv[2], "SERVER_NAME": "testserver",
           "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
           "HTTP_HOST": "testserver", "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1"}
def start_response(status, headers): assert status.startswith("200"), status
n = int(sys.argv[1])
for _ in range(500): b"".join(handler(dict(environ), start_response))
t = time.process_time()  # CPU time: steadier than the wall clock on a machine others load too
for _ in range(n): b"".join(handler(dict(environ), start_response))
print((time.process_time() - t) / n * 1e6)
"""


def in_process(variant_env: dict, n: int, path: str = "/bench/trivial/") -> float:
    env = {**base_env(), **variant_env}
    with tempfile.TemporaryDirectory() as metrics:
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics
        out = subprocess.run([sys.executable, "-c", IN_PROCESS, str(n), path], env=env, cwd=ROOT, capture_output=True,  # noqa: S603
                             text=True, check=True, stdin=subprocess.DEVNULL)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def served(variant_env: dict, path: str, seconds: int) -> float:
    port = _free_port()
    with tempfile.TemporaryDirectory() as metrics:
        env = {**base_env(), **variant_env, "PROMETHEUS_MULTIPROC_DIR": metrics, "HOST": f"127.0.0.1:{port}",
               "WEB_CONCURRENCY": "1"}  # fmt: skip
        server = subprocess.Popen(  # noqa: S603
            [str(ROOT / ".venv/bin/gunicorn"), "--config", "deploy/gunicorn.conf.py", "bench.ops_wsgi"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            _wait_ready(f"http://127.0.0.1:{port}{path}")
            out = subprocess.run(  # noqa: S603
                [shutil.which("wrk") or "wrk", "-t1", "-c4", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    for line in out.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(out.stdout)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str):
    for _ in range(300):
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310  loopback only
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=5000, help="in-process requests per round")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per served round")
    parser.add_argument("--no-served", action="store_true", help="in-process figures only")
    args = parser.parse_args()
    if not args.no_served and not shutil.which("wrk"):
        print("wrk is needed for the served figures: apt-get install wrk", file=sys.stderr)
        return 1
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, variant in VARIANTS.items():
            results.setdefault((name, "in-process µs/request"), []).append(in_process(variant, args.requests))
            results.setdefault((name, "in-process SELECT 1"), []).append(
                in_process(variant, args.requests, "/bench/query/")
            )
            if not args.no_served:
                for path, label in (
                    ("/bench/trivial/", "served trivial req/s"),
                    ("/bench/query/", "served SELECT 1 req/s"),
                ):
                    results.setdefault((name, label), []).append(served(variant, path, args.seconds))
    print(f"\nOperations middleware overhead, {args.rounds} interleaved rounds, shared 2-core machine\n")
    print(
        "| variant | trivial view: CPU µs/request (min / median) | added to none | SELECT 1 view: CPU µs "
        "(min / median) | added to none | served trivial req/s (max / median) | served SELECT 1 req/s (max / median) |"
    )
    print("|---|---|---|---|---|---|---|")
    base = statistics.median(results[("none", "in-process µs/request")])
    base_query = statistics.median(results[("none", "in-process SELECT 1")])
    for name in VARIANTS:
        us = results[(name, "in-process µs/request")]
        served_cells = [
            f"{max(r):,.0f} / {statistics.median(r):,.0f}" if (r := results.get((name, label))) else "–"
            for label in ("served trivial req/s", "served SELECT 1 req/s")
        ]
        qs = results[(name, "in-process SELECT 1")]
        print(
            f"| {name} | {min(us):.0f} / {statistics.median(us):.0f} | {statistics.median(us) - base:+.0f} µs "
            f"| {min(qs):.0f} / {statistics.median(qs):.0f} | {statistics.median(qs) - base_query:+.0f} µs "
            f"| {served_cells[0]} | {served_cells[1]} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
