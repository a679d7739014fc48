"""JSON log lines: one object per line with time, level, logger, message, the request id of the HTTP
request (or of the request that queued the Celery task) and, inside a task, the task's name and id.

Messages carry ids (customer_id=cus_…), never names, emails or phones (tests/ops/test_logs.py runs a
realistic flow and looks for them in the output).
"""

from datetime import UTC, datetime

from celery._state import get_current_task
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

FIELDS = ["asctime", "levelname", "name", "message"]
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger", "correlation_id": "request_id"}


class Formatter(JsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", RENAMED)
        # django.request attaches the request, whose repr carries the query string (?phone=…): leave it out.
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        super().__init__(FIELDS, *args, **kwargs)

    def formatTime(self, record, datefmt=None):
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def add_fields(self, log_record, record, message_dict):
        super().add_fields(log_record, record, message_dict)
        if not log_record.get("request_id"):
            log_record.pop("request_id", None)


class CeleryTaskFilter:
    """Adds the running Celery task's name and id to records logged inside it."""

    def filter(self, record):
        task = get_current_task()
        if task is not None and task.request.id is not None:
            record.task = task.name
            record.task_id = task.request.id
        return True


class RequestPathFilter:
    """Django logs refused requests as "Not Found: /path": a path can carry an email or a token that
    an integration put there. Such records name the URL pattern that matched instead (or "-")."""

    def filter(self, record):
        request = getattr(record, "request", None)
        path = getattr(request, "path", None)
        if path and isinstance(record.args, tuple) and path in record.args:
            match = getattr(request, "resolver_match", None)
            route = "/" + match.route if match is not None and match.route else "-"
            record.args = tuple(route if arg == path else arg for arg in record.args)
        return True


class OneLineForbiddenFilter:
    """A 403 is a refusal working as designed, not an error: Django logs it with the PermissionDenied
    traceback attached. Keep the one line (method, route, status) and drop the traceback."""

    def filter(self, record):
        if record.name == "django.request" and getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
