"""Idempotency-Key support for any write endpoint: decorate the view method with @idempotent.

The key is claimed, the work done and the answer stored in one transaction (one commit): the claim
is an `INSERT … ON CONFLICT DO NOTHING` on the row unique per caller and key, so a stored answer
always means the work is done, and an error anywhere leaves no claim behind. Same key + same body
within IDEMPOTENCY_KEY_TTL → the stored status and body again; same key + another body → 422
idempotency_conflict. A duplicate that arrives while the first is still running waits at the unique
index (PostgreSQL makes the second insert wait for the first transaction) and then answers with the
first's stored answer, or does the work itself if the first failed. Only successful (2xx) answers are
stored: after an error the caller may retry with the same key. A claim committed as `in_progress`
(written by releases before claims moved into the work's transaction) is waited for up to a few
seconds, then 409 idempotency_in_progress, and dropped once IDEMPOTENCY_STALE_AFTER has passed.
"""

import functools
import hashlib
import json
import time

from django.conf import settings
from django.db import transaction
from django.db.models.constants import OnConflict
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
    """Inside the request's transaction: the new claim, or the stored answer to replay."""
    fingerprint = request_fingerprint(request)
    deadline = time.monotonic() + _WAIT_SECONDS
    meta = IdempotencyRecord._meta
    while True:
        now = timezone.now()
        record = IdempotencyRecord(
            owner=owner, key=key, method=request.method, path=request.path[:255], request_hash=fingerprint,
            created_at=now,
        )  # fmt: skip
        rows = IdempotencyRecord.objects._insert(
            [record], fields=[f for f in meta.local_concrete_fields if f is not meta.pk],
            returning_fields=[meta.pk], using="default", on_conflict=OnConflict.IGNORE,
        )  # fmt: skip
        if rows and rows[0] is not None:  # claimed (on a duplicate key the insert waited, then did nothing)
            record.pk = rows[0][0]
            record._state.adding, record._state.db = False, "default"
            return record, None
        existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
        if existing is None:
            continue  # purged between our insert and our read: try again
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
        with request_transaction():  # any error ends it: the services inside need no savepoints
            record, response = _claim(owner=idempotency_owner(request), key=key, request=request)
            if response is not None:
                return response  # the stored answer; nothing was written
            response = method(view, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                IdempotencyRecord.objects.filter(pk=record.pk).update(
                    state=IdempotencyRecord.State.DONE,
                    response_status=response.status_code,
                    response_body=json.loads(json.dumps(response.data, default=str)),
                )
            else:
                transaction.set_rollback(True)  # the claim goes with the rest: the key may be used again
        return response

    return wrapper
