"""The LINE webhook (called by LINE, signed) and the account-link page (opened by a LINE user from
the link we sent them). Thin: call the services."""

import logging

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.exceptions import DomainError
from crm.views import staff_page

from .client import LineApiError
from .exceptions import LinkRequestInvalid
from .forms import MemberProofForm
from .services import image_of_message, link_request_for_token, prove_line_member, receive_line_webhook
from .services.inbound import MAX_WEBHOOK_BYTES

logger = logging.getLogger(__name__)


def _problem(status: int, code: str, detail: str, errors: dict | None = None) -> JsonResponse:
    body = {"status": status, "code": code, "detail": detail, "errors": errors or {}}
    return JsonResponse(body, status=status, content_type="application/problem+json")


@csrf_exempt  # LINE signs the body instead (X-Line-Signature)
@require_POST
def webhook(request, name):
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_WEBHOOK_BYTES:
        return _problem(413, "too_large", "The body is too large.")
    try:
        body = request.body
    except RequestDataTooBig:
        return _problem(413, "too_large", "The body is too large.")
    if len(body) > MAX_WEBHOOK_BYTES:
        return _problem(413, "too_large", "The body is too large.")
    try:
        receive_line_webhook(name=name, body=body, signature=request.headers.get("X-Line-Signature", ""))
    except DomainError as exc:
        return _problem(exc.status, exc.code, exc.detail)
    except ValidationError as exc:
        return _problem(400, "validation_error", "The webhook body is not valid.", exc.message_dict)
    return JsonResponse({})


@require_http_methods(["GET", "POST"])
def link(request, name):
    token = request.GET.get("linkToken", "")
    try:
        link_request = link_request_for_token(name=name, link_token=token)
    except LinkRequestInvalid:
        return render(request, "channels_hub/line_link_invalid.html", {"name": name}, status=410)
    if request.method == "GET":
        return render(request, "channels_hub/line_link.html", {"form": MemberProofForm()})
    form = MemberProofForm(request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            url = prove_line_member(
                link_request=link_request, member_number=data["member_number"], birth_date=data["birth_date"],
                phone=data["phone"],
            )  # fmt: skip
        except LinkRequestInvalid:
            return render(request, "channels_hub/line_link_invalid.html", {"name": name}, status=410)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except DomainError as exc:  # wrong proof (422), too many attempts (429), linked elsewhere (409)
            form.add_error(None, exc.detail)
            status = exc.status
        else:
            return HttpResponseRedirect(url)
    return render(request, "channels_hub/line_link.html", {"form": form}, status=status)


@require_GET
@staff_page("channels_hub.view_ticket")
def image(request, public_id):
    """An image a LINE user sent, fetched from LINE when an agent opens it (nothing is stored here)."""
    try:
        content, content_type = image_of_message(public_id=public_id)
    except LookupError as exc:
        raise Http404(str(exc)) from exc
    except LineApiError as exc:
        return HttpResponse(f"LINE {exc.status}", status=502 if exc.status != 404 else 404, content_type="text/plain")
    if not content_type.startswith("image/") or content_type.startswith("image/svg"):
        content_type = "application/octet-stream"  # never rendered as a page
    response = HttpResponse(content, content_type=content_type)
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, max-age=3600"
    return response
