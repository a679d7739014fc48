from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.api.serializers import MomentField, StrictSerializer
from crm.models import Channel

from ..services.inbound import HANDOFF_ROLES, MAX_EXTERNAL_ID, MAX_NAME, MAX_SUBJECT


class SenderInput(StrictSerializer):
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)
    external_id = serializers.CharField(max_length=MAX_EXTERNAL_ID, required=False, allow_blank=True)
    name = serializers.CharField(max_length=MAX_NAME, required=False, allow_blank=True)


class AttachmentInput(StrictSerializer):
    name = serializers.CharField(max_length=255)
    type = serializers.CharField(max_length=100)
    size = serializers.IntegerField(min_value=0)


class MessageInput(StrictSerializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    external_message_id = serializers.CharField(max_length=MAX_EXTERNAL_ID)
    sender = SenderInput()
    subject = serializers.CharField(max_length=MAX_SUBJECT, required=False, allow_blank=True, default="")
    body = serializers.CharField(max_length=20_000, trim_whitespace=False)
    sent_at = MomentField()
    thread_ref = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    attachments = AttachmentInput(many=True, required=False, max_length=20, default=list)

    def validate_body(self, value):
        if not value.strip():
            raise serializers.ValidationError(_("The message is empty."))
        return value


class InboundOutput(serializers.Serializer):
    ticket = serializers.CharField()
    customer = serializers.CharField(allow_null=True)
    lead = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    created = serializers.BooleanField()


class TranscriptLineInput(StrictSerializer):
    role = serializers.ChoiceField(choices=[(r, r) for r in HANDOFF_ROLES])
    text = serializers.CharField(max_length=20_000)
    at = MomentField()


class HandoffInput(StrictSerializer):
    conversation_id = serializers.CharField(max_length=200)
    sender = SenderInput()
    transcript = TranscriptLineInput(many=True, min_length=1, max_length=200)
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, default=Channel.CHAT)


class HandoffOutput(serializers.Serializer):
    ticket = serializers.CharField()
    priority = serializers.CharField()
    customer = serializers.CharField(allow_null=True)
    created = serializers.BooleanField()


class CallerQuery(serializers.Serializer):
    phone = serializers.CharField(max_length=32)


class CallerCustomerOutput(serializers.Serializer):
    id = serializers.CharField()
    member_number = serializers.CharField()
    name = serializers.CharField()


class CallerTicketOutput(serializers.Serializer):
    id = serializers.CharField()
    subject = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.CharField()
    first_channel = serializers.CharField()
    last_message_at = serializers.DateTimeField()


class CallerOutput(serializers.Serializer):
    phone = serializers.CharField()
    customers = CallerCustomerOutput(many=True)
    lead = serializers.CharField(allow_null=True)
    tickets = CallerTicketOutput(many=True)
