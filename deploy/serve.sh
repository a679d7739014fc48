#!/usr/bin/env bash
# `make serve`: Tsunagu as production runs it, on one machine. PostgreSQL (DATABASE_URL) and a broker
# (CELERY_BROKER_URL, Redis or RabbitMQ), DEBUG off, migrations applied, static files collected,
# `check --deploy`, then gunicorn, a Celery worker per queue and beat under honcho (deploy/Procfile).
# Local PostgreSQL/Redis that are installed but stopped are started, as .ci/run does.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
say() { printf 'serve: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

export DEBUG=false
export HOST="${HOST:-127.0.0.1:8000}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tsunagu}"
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}"
# crm.checks wants a cache shared by every process (config caches, throttles, login limits).
export CACHE_URL="${CACHE_URL:-redis://127.0.0.1:6379/1}"
mkdir -p var
if [ -z "${SECRET_KEY:-}" ]; then
    [ -s var/secret_key ] || (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >var/secret_key)
    SECRET_KEY="$(cat var/secret_key)"
    export SECRET_KEY
fi
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-${HOST%:*},localhost,127.0.0.1}"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/prometheus}"
[ -n "${EMAIL_URL:-}" ] || say "EMAIL_URL is not set: mail goes to files under var/mail/ (set smtp+tls://user:pass@host:587)"
[ -n "${TSUNAGU_SENDER_ADDRESS:-}" ] || say "TSUNAGU_SENDER_ADDRESS is not set: marketing mails must carry the shop's postal address"

# host port of a URL (scheme://user@host:port/...), with the scheme's default port
url_host_port() { "$PY" -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.hostname or "127.0.0.1", p.port or int(sys.argv[2]))' "$1" "$2"; }
is_local() { case "$1" in 127.*|localhost|::1) return 0;; *) return 1;; esac; }
wait_for() { for _ in $(seq 1 30); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done; return 1; }

case "$DATABASE_URL" in postgres://*|postgresql://*) ;; *) die "DATABASE_URL must be a postgres:// URL (make run is the SQLite development server)";; esac
read -r PG_HOST PG_PORT < <(url_host_port "$DATABASE_URL" 5432)
if ! pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; then
    if is_local "$PG_HOST" && command -v pg_ctlcluster >/dev/null && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
        say "starting the local PostgreSQL cluster"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
        wait_for pg_isready -h "$PG_HOST" -p "$PG_PORT" -q || die "PostgreSQL at $PG_HOST:$PG_PORT did not start"
    elif ! command -v pg_isready >/dev/null; then
        die "PostgreSQL is not installed (apt-get install postgresql) and DATABASE_URL points at $PG_HOST:$PG_PORT"
    else
        die "PostgreSQL at $PG_HOST:$PG_PORT cannot be reached (DATABASE_URL)"
    fi
fi
# The database itself, created when missing (a fresh machine).
"$PY" - <<'PYEOF' || die "cannot create the database of DATABASE_URL"
import os, urllib.parse as u, psycopg
from psycopg import sql
url = u.urlsplit(os.environ["DATABASE_URL"])
name = url.path.lstrip("/")
with psycopg.connect(u.urlunsplit(url._replace(path="/postgres")), autocommit=True, connect_timeout=5) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"serve: created database {name}")
PYEOF

case "$CELERY_BROKER_URL" in
redis://*|rediss://*) read -r B_HOST B_PORT < <(url_host_port "$CELERY_BROKER_URL" 6379)
    if ! redis-cli -h "$B_HOST" -p "$B_PORT" ping >/dev/null 2>&1; then
        if is_local "$B_HOST" && command -v redis-server >/dev/null; then
            say "starting a local Redis"
            redis-server --daemonize yes --bind "$B_HOST" --port "$B_PORT" --save "" --appendonly no >/dev/null
            wait_for redis-cli -h "$B_HOST" -p "$B_PORT" ping || die "Redis at $B_HOST:$B_PORT did not start"
        elif ! command -v redis-server >/dev/null && is_local "$B_HOST"; then
            die "Redis is not installed (apt-get install redis-server) and CELERY_BROKER_URL points at $B_HOST:$B_PORT"
        else
            die "Redis at $B_HOST:$B_PORT cannot be reached (CELERY_BROKER_URL)"
        fi
    fi;;
amqp://*|pyamqp://*) read -r B_HOST B_PORT < <(url_host_port "$CELERY_BROKER_URL" 5672)
    "$PY" -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5).close()' "$B_HOST" "$B_PORT" 2>/dev/null \
        || die "RabbitMQ at $B_HOST:$B_PORT cannot be reached (CELERY_BROKER_URL); apt-get install rabbitmq-server to run one here";;
*) die "CELERY_BROKER_URL must be redis:// or amqp:// (production runs real workers)";;
esac
case "$CACHE_URL" in redis://*|rediss://*) read -r C_HOST C_PORT < <(url_host_port "$CACHE_URL" 6379)
    redis-cli -h "$C_HOST" -p "$C_PORT" ping >/dev/null 2>&1 || die "the cache at $C_HOST:$C_PORT cannot be reached (CACHE_URL)";;
esac

rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"  # values of a previous run
"$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput --verbosity 0
"$PY" manage.py check --deploy
say "serving http://$HOST (gunicorn, Celery workers for default, reports and mail, beat); Ctrl-C stops all"
exec .venv/bin/honcho --procfile deploy/Procfile --app-root . start
