"""Contact hub endpoints of the integration contract (shared/API.md). Thin: check the signature,
validate, call a service, answer."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.exceptions import DomainError
from crm.models import AccessLogEntry
from crm.normalize import parse_phone
from crm.privacy.access_log import log_access

from .. import selectors
from ..conf import hub_setting
from ..services import hand_off_conversation, receive_email, receive_message
from ..services.outbound import signature_is_valid
from .serializers import CallerOutput, CallerQuery, HandoffInput, HandoffOutput, InboundOutput, MessageInput

SIGNATURE_PARAMETER = OpenApiParameter(
    "X-Tsunagu-Signature", str, OpenApiParameter.HEADER, required=False,
    description="`sha256=<hex HMAC-SHA256 of the raw body>`; required when the server has an inbound secret.",
)  # fmt: skip


class InvalidSignature(DomainError):
    code = "invalid_signature"
    status = 401
    title = _("The X-Tsunagu-Signature header is missing or wrong.")


class SignedInboundMixin:
    """When HUB_INBOUND_WEBHOOK_SECRET is set, the raw body must be signed; checked before anything
    is parsed or written."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        secret = hub_setting("HUB_INBOUND_WEBHOOK_SECRET")
        if secret and not signature_is_valid(request.body, secret, request.headers.get("X-Tsunagu-Signature", "")):
            raise InvalidSignature()


def _inbound_answer(message, created: bool) -> Response:
    ticket = message.ticket
    body = {
        "ticket": ticket.public_id,
        "customer": ticket.customer.public_id if ticket.customer_id else None,
        "lead": ticket.lead.public_id if ticket.lead_id else None,
        "message": message.public_id,
        "created": created,
    }
    return Response(body, status=201 if created else 200)


class InboundMessageView(SignedInboundMixin, APIView):
    required_scope = "hub:write"

    @extend_schema(
        operation_id="hub_messages_create",
        summary="Inbound message from any channel",
        description="Threads into the ticket named by `thread_ref`, else the sender's open ticket within the "
        "threading window, else a new ticket. The same `(channel, external_message_id)` again answers 200 with "
        "`created: false` and writes nothing.",
        request=MessageInput,
        parameters=[SIGNATURE_PARAMETER],
        responses={201: InboundOutput, 200: InboundOutput},
    )
    def post(self, request):
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = receive_message(**data.validated_data)
        return _inbound_answer(message, created)


class HandoffView(SignedInboundMixin, APIView):
    required_scope = "hub:write"

    @extend_schema(
        operation_id="hub_handoff_create",
        summary="Chatbot hands a conversation to a person",
        description="The transcript becomes the first messages of a new ticket; a reason that sounds urgent or like "
        "a complaint raises the priority. The same `conversation_id` again answers 200 with the same ticket.",
        request=HandoffInput,
        parameters=[SIGNATURE_PARAMETER],
        responses={201: HandoffOutput, 200: HandoffOutput},
    )
    def post(self, request):
        data = HandoffInput(data=request.data)
        data.is_valid(raise_exception=True)
        ticket, created = hand_off_conversation(**data.validated_data)
        body = {
            "ticket": ticket.public_id,
            "priority": ticket.priority,
            "customer": ticket.customer.public_id if ticket.customer_id else None,
            "created": created,
        }
        return Response(body, status=201 if created else 200)


class RawEmailParser(BaseParser):
    media_type = "message/rfc822"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream is not None else b""


class InboundEmailView(SignedInboundMixin, APIView):
    required_scope = "hub:write"
    parser_classes = [RawEmailParser]

    @extend_schema(
        operation_id="hub_email_create",
        summary="Inbound email (raw RFC 822 source)",
        description="Send the message as it arrived (`Content-Type: message/rfc822`). Quoted earlier mails are "
        "stripped; attachments are described by name, type and size and never stored or opened. In-Reply-To, "
        "References or a ticket id in the subject or the +address thread the mail.",
        request={"message/rfc822": OpenApiTypes.BINARY},
        parameters=[SIGNATURE_PARAMETER],
        responses={201: InboundOutput, 200: InboundOutput},
    )
    def post(self, request):
        message, created = receive_email(raw=request.data if isinstance(request.data, bytes) else b"")
        return _inbound_answer(message, created)


class CallerLookupView(APIView):
    required_scope = "customers:read"

    @extend_schema(
        operation_id="hub_caller_retrieve",
        summary="Screen-pop: who is calling?",
        description="Customers with this phone number and their open tickets; for an unknown number that "
        "contacted us before, the lead and its open tickets.",
        parameters=[CallerQuery],
        responses=CallerOutput,
    )
    def get(self, request):
        query = CallerQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        phone = parse_phone(query.validated_data["phone"])
        if phone is None:
            from rest_framework.exceptions import ValidationError

            raise ValidationError({"phone": [_("Enter a valid phone number.")]})
        customers, tickets, lead = selectors.caller_lookup(phone=phone)
        log_access(request=request, customers=customers, kind=AccessLogEntry.Kind.API_READ)
        body = {
            "phone": phone,
            "customers": [
                {"id": c.public_id, "member_number": c.member_number, "name": c.full_name} for c in customers
            ],
            "lead": lead.public_id if lead else None,
            "tickets": [
                {
                    "id": t.public_id,
                    "subject": t.subject,
                    "status": t.status,
                    "priority": t.priority,
                    "first_channel": t.first_channel,
                    "last_message_at": t.last_message_at,
                }
                for t in tickets
            ],
        }
        return Response(CallerOutput(body).data)
