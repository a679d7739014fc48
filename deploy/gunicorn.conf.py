"""gunicorn settings of `make serve`, the container image and the systemd unit.

Bound to HOST (default 127.0.0.1:8000); WEB_CONCURRENCY workers, by default 2 x cores + 1 (sync
workers: each request holds one process, the API's time is mostly database round trips).
"""

import multiprocessing
import os

bind = [os.environ.get("HOST", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))
timeout = int(os.environ.get("WEB_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# No max_requests: in Prometheus multiprocess mode every recycled worker leaves its files behind and
# each scrape reads them all.
accesslog = None  # crm.ops.middleware writes the access log (route, not path and query string)
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "crm.ops.logs.Formatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {"gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
