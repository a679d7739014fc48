from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.api.serializers import StrictSerializer

from ..models import Segment


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


class CampaignInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    segment = SegmentField(help_text="Segment id (seg_…)")
    subject = serializers.CharField(max_length=255)
    from_email = serializers.CharField(max_length=254)
    body_text = serializers.CharField()
    body_html = serializers.CharField(required=False, allow_blank=True, default="")
    holdout_percent = serializers.IntegerField(required=False, min_value=0, max_value=90, default=0)


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


class CampaignOutput(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField(help_text="draft, scheduled, sending, paused, sent or cancelled")
    counts = CountsOutput()
    attributed = AttributedOutput()
