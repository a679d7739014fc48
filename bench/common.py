"""Shared by the benchmarks: the bench database, timing helpers, result tables."""

import os
import platform
import statistics
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tsunagu_bench"


def configure_environment() -> str:
    """Point Django at the bench database before it is imported; returns the database URL."""
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings"
    # Production-like: no DEBUG query log, persistent connections, no throttling of the bench key.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("CONN_MAX_AGE", "3600")
    os.environ.setdefault("API_KEY_THROTTLE_RATE", "1000000/min")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("CACHE_URL", "locmemcache://bench")  # one process: no shared cache needed
    # whitenoise warns that collectstatic has not run: the bench serves no static files.
    warnings.filterwarnings("ignore", message="No directory at")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return url


def ensure_database(url: str) -> None:
    """Create the bench database if it does not exist (connecting to the server's `postgres` db)."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    name = params.get("dbname") or "tsunagu_bench"
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}", file=sys.stderr)


def prepare_database(parser=None) -> str:
    """Every benchmark's start: point Django at BENCH_DATABASE_URL (PostgreSQL only), create the
    database if missing, set Django up and migrate. Returns the database URL."""
    url = configure_environment()
    if not url.startswith(("postgres://", "postgresql://")):
        message = "BENCH_DATABASE_URL must point at PostgreSQL"
        if parser is not None:
            parser.error(message)
        raise SystemExit(message)
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def raw_connection():
    """A plain psycopg connection to the bench database, outside Django."""
    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)


@contextmanager
def stopwatch():
    result = {}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - start


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 200 samples is the 198th fastest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table, ready for the README."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def environment_line() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return (
        f"PostgreSQL {version}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )


def report(name: str, text: str) -> None:
    """Print a result and keep it in bench/results/<name>.txt."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"(written to {RESULTS.relative_to(ROOT) / (name + '.txt')})\n")
