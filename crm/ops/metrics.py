"""Prometheus metrics of Tsunagu, exposed at /metrics (see middleware.py for who may read them).

HTTP requests (by view, method and status, with latency) are django-prometheus' own metrics, recorded
by a lean middleware; database time comes from django-prometheus' database backends. Celery task
outcomes, mails and orders are counted here; queue lengths are read from the broker at scrape time.

gunicorn and Celery run several processes: with PROMETHEUS_MULTIPROC_DIR set (make serve, the compose
file and the systemd units set it) every process writes its values to files in that directory and a
scrape of any web process adds them up, so one scrape sees the web workers and the Celery workers of
that machine.
"""

import glob
import logging
import os
import time

from celery.signals import task_failure, task_postrun, task_prerun, task_retry, task_revoked, task_success
from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.dispatch import receiver
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from ..signals import order_recorded

logger = logging.getLogger(__name__)

TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, float("inf"))

celery_tasks = Counter(
    "tsunagu_celery_tasks_total", "Celery tasks finished, by task name and outcome.", ["task", "outcome"]
)
celery_task_seconds = Histogram(
    "tsunagu_celery_task_duration_seconds", "Run time of Celery tasks.", ["task"], buckets=TASK_BUCKETS
)
mails = Counter("tsunagu_mails_total", "Mails handed to the mail backend: outcome is sent or failed.", ["outcome"])
orders_recorded = Counter(
    "tsunagu_orders_recorded_total", "Orders recorded (committed), by sales channel.", ["channel"]
)


# --- Celery task outcomes -----------------------------------------------------------------------
_started: dict[str, float] = {}


@task_prerun.connect(weak=False)
def _task_started(task_id=None, **kwargs):
    _started[task_id] = time.perf_counter()


@task_postrun.connect(weak=False)
def _task_finished(task_id=None, task=None, **kwargs):
    started = _started.pop(task_id, None)
    if started is not None and task is not None:
        celery_task_seconds.labels(task.name).observe(time.perf_counter() - started)


@task_success.connect(weak=False)
def _task_succeeded(sender=None, **kwargs):
    celery_tasks.labels(getattr(sender, "name", "unknown"), "success").inc()


@task_failure.connect(weak=False)
def _task_failed(sender=None, **kwargs):
    celery_tasks.labels(getattr(sender, "name", "unknown"), "failure").inc()


@task_retry.connect(weak=False)
def _task_retried(sender=None, **kwargs):
    celery_tasks.labels(getattr(sender, "name", "unknown"), "retry").inc()


@task_revoked.connect(weak=False)
def _task_revoked(sender=None, request=None, **kwargs):
    celery_tasks.labels(getattr(request, "task", None) or "unknown", "revoked").inc()


# --- Orders -------------------------------------------------------------------------------------
@receiver(order_recorded, weak=False, dispatch_uid="crm.ops.metrics.count_order")
def _count_order(sender, order, **kwargs):
    orders_recorded.labels(order.channel).inc()  # sent after commit: a refused order is not counted


# --- Mails --------------------------------------------------------------------------------------
class MeteredEmailBackend(BaseEmailBackend):
    """Counts what the real backend (TSUNAGU_EMAIL_BACKEND) sends and fails to send, and delegates
    everything to it: connections, TLS, timeouts and errors are the real backend's."""

    def __init__(self, fail_silently=False, **kwargs):
        super().__init__(fail_silently=fail_silently)
        self.backend = get_connection(settings.TSUNAGU_EMAIL_BACKEND, fail_silently=fail_silently, **kwargs)

    def open(self):
        return self.backend.open()

    def close(self):
        return self.backend.close()

    def send_messages(self, email_messages):
        count = len(email_messages or ())
        try:
            sent = self.backend.send_messages(email_messages) or 0
        except Exception:
            mails.labels("failed").inc(count)
            raise
        mails.labels("sent").inc(sent)
        if count > sent:
            mails.labels("failed").inc(count - sent)
        return sent


# --- Queue lengths, read from the broker at scrape time -------------------------------------------
QUEUES = ("default", "reports", "mail")


class QueueLengthCollector:
    """Messages waiting in each Celery queue (not counting those a worker has taken)."""

    def collect(self):
        gauge = GaugeMetricFamily(
            "tsunagu_celery_queue_length", "Messages waiting in each Celery queue.", labels=["queue"]
        )
        up = GaugeMetricFamily("tsunagu_celery_broker_up", "1 when the broker answered this scrape.")
        if not settings.CELERY_BROKER_URL:
            return
        try:
            lengths = queue_lengths()
        except Exception:
            logger.warning("metrics: broker unreachable", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for name, length in lengths.items():
            gauge.add_metric([name], length)
        yield gauge


def queue_lengths() -> dict[str, int]:
    from kombu.exceptions import ChannelError

    from ..celery import app

    lengths = {}
    with app.connection_for_read(url=settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
        channel = conn.channel()
        try:
            for name in QUEUES:
                try:
                    lengths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except ChannelError:  # never declared (Redis: nothing waiting there)
                    lengths[name] = 0
                    channel = conn.channel()  # AMQP closes the channel on a failed passive declare
        finally:
            channel.close()
    return lengths


class MergedFiles:
    """The multiprocess files of several directories, summed as one machine: METRICS_COLLECT_GLOB lets
    the web container of the compose file read the workers' containers too (each container writes to
    its own directory of a shared volume, since process ids repeat across containers)."""

    def __init__(self, pattern: str):
        self.pattern = pattern

    def collect(self):
        files = sorted(glob.glob(os.path.join(self.pattern, "*.db")))
        return multiprocess.MultiProcessCollector.merge(files, accumulate=True)


def exposition() -> bytes:
    """The text a scrape gets: this machine's processes (multiprocess mode) or this process alone."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(MergedFiles(settings.METRICS_COLLECT_GLOB or directory))
    else:
        from prometheus_client import REGISTRY as registry
    output = generate_latest(registry)
    queues = CollectorRegistry(auto_describe=False)
    queues.register(QueueLengthCollector())
    return output + generate_latest(queues)
