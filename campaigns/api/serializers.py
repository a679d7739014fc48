from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.api.serializers import StrictSerializer

from ..models import Campaign, Segment


class RulesInput(StrictSerializer):
    rules = serializers.JSONField(help_text="A rule tree: {all|any: [...]}, {not: rule} or {field, op, value, ...}")


class SegmentInput(RulesInput):
    name = serializers.CharField(max_length=200)


class PreviewOutput(serializers.Serializer):
    count = serializers.IntegerField()
    sample = serializers.ListField(child=serializers.CharField(), help_text="At most 20 customer ids")


class SegmentOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    rules = serializers.JSONField()
    count = serializers.IntegerField()


class SegmentField(serializers.SlugRelatedField):
    default_error_messages = {"does_not_exist": _("Unknown segment."), "invalid": _("Unknown segment.")}

    def __init__(self, **kwargs):
        super().__init__(slug_field="public_id", queryset=Segment.objects.all(), **kwargs)


class LineAccountField(serializers.SlugRelatedField):
    default_error_messages = {"does_not_exist": _("Unknown LINE account."), "invalid": _("Unknown LINE account.")}

    def __init__(self, **kwargs):
        from channels_hub.line.models import LineAccount

        super().__init__(slug_field="name", queryset=LineAccount.objects.filter(active=True), **kwargs)


class CampaignInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    segment = SegmentField(help_text="Segment id (seg_…)")
    subject = serializers.CharField(max_length=255)
    from_email = serializers.CharField(max_length=254)
    body_text = serializers.CharField()
    body_html = serializers.CharField(required=False, allow_blank=True, default="")
    holdout_percent = serializers.IntegerField(required=False, min_value=0, max_value=90, default=0)
    channel = serializers.ChoiceField(
        choices=Campaign.Channel.choices, required=False, default=Campaign.Channel.EMAIL,
        help_text="email (default), line, or line_email (LINE, falling back to email for customers without LINE)",
    )  # fmt: skip
    line_account = LineAccountField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The LINE official account's name; required unless channel is email",
    )
    line_text = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=5000,
        help_text="The LINE message (a template like body_text); empty: body_text",
    )


class CampaignCreatedOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    status = serializers.CharField(help_text="draft, scheduled, sending, paused, sent or cancelled")


class CountsOutput(serializers.Serializer):
    audience = serializers.IntegerField()
    recipients = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    holdout = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()


class AttributedOutput(serializers.Serializer):
    orders = serializers.IntegerField()
    revenue = serializers.IntegerField(help_text="yen")
    store_orders = serializers.IntegerField()
    ec_orders = serializers.IntegerField()


class ChannelCountsOutput(serializers.Serializer):
    recipients = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    holdout = serializers.IntegerField()
    unsubscribed = serializers.IntegerField(help_text="for LINE: opted out or blocked the account after the message")


class ByChannelOutput(serializers.Serializer):
    email = ChannelCountsOutput()
    line = ChannelCountsOutput()


class CampaignOutput(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField(help_text="draft, scheduled, sending, paused, sent or cancelled")
    channel = serializers.CharField(help_text="email, line or line_email")
    counts = CountsOutput()
    by_channel = ByChannelOutput(help_text="The counts split by the channel each recipient was reached on")
    attributed = AttributedOutput()
