"""One exception handler: every API error is application/problem+json (RFC 9457) with a stable `code`
and, for bad input, `errors` keyed by the field's path (``lines.0.sku``)."""

import logging

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from ..exceptions import DomainError
from ..input_guard import value_out_of_range_message

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
_TITLES = {
    "validation_error": _("The request has invalid fields."),
    "parse_error": _("The body is not valid JSON."),
    "not_authenticated": _("Authentication is required."),
    "authentication_failed": _("Authentication failed."),
    "permission_denied": _("You do not have permission to do this."),
    "not_found": _("Not found."),
    "method_not_allowed": _("Method not allowed."),
    "unsupported_media_type": _("Send JSON (Content-Type: application/json)."),
    "throttled": _("Too many requests."),
    "request_too_large": _("The request body is too large."),
}


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail → {"lines.0.sku": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY and prefix:
                path = prefix  # an error about the nested object itself belongs to its field
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_errors(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            if detail:
                out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for i, item in enumerate(detail):
                out.update(flatten_errors(item, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def problem(*, status_code: int, code: str, detail: str, title=None, errors=None, extra=None) -> dict:
    body = {
        "type": "about:blank",
        "title": str(title or _TITLES.get(code, detail)),
        "status": status_code,
        "detail": str(detail),
        "code": code,
    }
    if errors:
        body["errors"] = errors
    body.update(extra or {})
    return body


def problem_exception_handler(exc, context):
    headers = {}
    if isinstance(exc, DomainError):
        headers = getattr(exc, "headers", {})
        body = problem(
            status_code=exc.status,
            code=exc.code,
            detail=exc.detail,
            title=exc.title,
            errors=exc.errors,
            extra=exc.extra,
        )
    elif isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        body = problem(status_code=400, code="validation_error", detail=_TITLES["validation_error"], errors=errors)
    elif isinstance(exc, RequestDataTooBig):
        body = problem(status_code=413, code="request_too_large", detail=_TITLES["request_too_large"])
    elif isinstance(exc, DataError | OverflowError):
        # The last line of the input guard (crm.input_guard): a value the column cannot hold.
        logger.error("value out of range view=%s", type(context.get("view")).__name__, exc_info=exc)
        detail = value_out_of_range_message()
        body = problem(status_code=400, code="validation_error", detail=detail, errors={"non_field_errors": [detail]})
    else:
        response = drf_exception_handler(exc, context)
        if response is None:
            return None
        headers = {k: v for k, v in response.items() if k in ("Retry-After", "WWW-Authenticate", "Allow")}
        if isinstance(exc, exceptions.ValidationError):
            body = problem(
                status_code=400,
                code="validation_error",
                detail=_TITLES["validation_error"],
                errors=flatten_errors(exc.detail),
            )
        else:
            code = getattr(exc, "default_code", "error")
            if isinstance(exc.detail, str | exceptions.ErrorDetail):
                code = getattr(exc.detail, "code", None) or code
                detail = str(exc.detail)
            else:
                detail = str(_TITLES.get(code, exc.default_detail))
            body = problem(status_code=response.status_code, code=code, detail=detail)
    set_rollback()
    return Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def api_not_found(request, exception=None):
    """404 for an unknown path under /api/: problem+json instead of the HTML page."""
    body = problem(status_code=404, code="not_found", detail=str(_("No such endpoint.")))
    return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE, json_dumps_params={"ensure_ascii": False})


def api_server_error(request):
    body = problem(status_code=500, code="server_error", detail=str(_("Something went wrong on our side.")))
    return JsonResponse(body, status=500, content_type=PROBLEM_CONTENT_TYPE)
