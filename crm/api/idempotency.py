"""Idempotency-Key support for any write endpoint: decorate the view method with @idempotent.

The first request with a key claims it (a committed row, unique per caller and key); the work and
the stored answer then commit in one transaction, so a stored answer always means the work is done.
Same key + same body within IDEMPOTENCY_KEY_TTL → the stored status and body again; same key +
another body → 422 idempotency_conflict; a duplicate that arrives while the first is still running
waits up to a few seconds for its answer, then gets 409 idempotency_in_progress. Only successful
(2xx) answers are stored: after an error the caller may retry with the same key.
"""

import functools
import hashlib
import json
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from ..exceptions import DomainError
from ..models import IdempotencyRecord
from ..transactions import request_transaction
from .auth import idempotency_owner

HEADER = "Idempotency-Key"
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="1–255 characters. Same key and body within 24 h answers the original response again.",
)  # fmt: skip
_WAIT_SECONDS, _POLL_SECONDS = 5.0, 0.05


class IdempotencyConflict(DomainError):
    code = "idempotency_conflict"
    status = 422
    title = _("This Idempotency-Key was used with a different request.")


class IdempotencyInProgress(DomainError):
    code = "idempotency_in_progress"
    status = 409
    title = _("A request with this Idempotency-Key is still being processed; retry shortly.")


def request_fingerprint(request) -> str:
    payload = json.dumps(
        {"method": request.method, "path": request.path, "body": request.data},
        sort_keys=True, ensure_ascii=False, default=str,
    )  # fmt: skip
    return hashlib.sha256(payload.encode()).hexdigest()


def _claim(*, owner, key, request) -> tuple[IdempotencyRecord | None, Response | None]:
    fingerprint = request_fingerprint(request)
    deadline = time.monotonic() + _WAIT_SECONDS
    while True:
        now = timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    owner=owner, key=key, method=request.method, path=request.path[:255],
                    request_hash=fingerprint, created_at=now,
                )  # fmt: skip
            return record, None
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
        if existing is None:
            continue  # released between our insert and our read: try again
        expired = existing.created_at < now - settings.IDEMPOTENCY_KEY_TTL
        abandoned = (
            existing.state == IdempotencyRecord.State.IN_PROGRESS
            and existing.created_at < now - settings.IDEMPOTENCY_STALE_AFTER
        )
        if expired or abandoned:
            IdempotencyRecord.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.request_hash != fingerprint:
            raise IdempotencyConflict()
        if existing.state == IdempotencyRecord.State.DONE:
            return None, Response(
                existing.response_body, status=existing.response_status, headers={"Idempotent-Replayed": "true"}
            )
        if time.monotonic() > deadline:
            raise IdempotencyInProgress()
        time.sleep(_POLL_SECONDS)


def idempotent(method):
    """Decorate an APIView method (post/put/patch) to honour the Idempotency-Key header."""

    @functools.wraps(method)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return method(view, request, *args, **kwargs)
        if not 1 <= len(key) <= 255:
            raise ValidationError({HEADER: [_("Use 1 to 255 characters.")]})
        record, replay = _claim(owner=idempotency_owner(request), key=key, request=request)
        if replay is not None:
            return replay
        try:
            with request_transaction():  # any error ends it: the services inside need no savepoints
                response = method(view, request, *args, **kwargs)
                succeeded = 200 <= response.status_code < 300
                if succeeded:
                    IdempotencyRecord.objects.filter(pk=record.pk).update(
                        state=IdempotencyRecord.State.DONE,
                        response_status=response.status_code,
                        response_body=json.loads(json.dumps(response.data, default=str)),
                    )
                else:
                    transaction.set_rollback(True)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if not succeeded:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return response

    return wrapper
