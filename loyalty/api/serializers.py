from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.api.serializers import StoreCodeField, StrictSerializer, iso_datetime
from crm.models import SalesChannel

from ..models import PointTransaction
from ..services.points import MAX_POINTS

REDEEM_CHANNELS = [(c, label) for c, label in SalesChannel.choices if c in ("store", "ec", "app")]


@extend_schema_field({"type": "integer"})
class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else: 1.5, "10", true are refused instead of being coerced."""

    default_error_messages = {"invalid": _("A whole number is required.")}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class RedeemInput(StrictSerializer):
    points = StrictIntegerField(min_value=1, max_value=MAX_POINTS)
    reference = serializers.CharField(max_length=64)
    channel = serializers.ChoiceField(choices=REDEEM_CHANNELS)
    store = StoreCodeField(required=False, allow_null=True)


class AdjustInput(StrictSerializer):
    points = StrictIntegerField(min_value=-MAX_POINTS, max_value=MAX_POINTS)
    reason = serializers.CharField(max_length=255)
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=REDEEM_CHANNELS, required=False, allow_blank=True, default="")
    store = StoreCodeField(required=False, allow_null=True)

    def validate_points(self, value):
        if value == 0:
            raise serializers.ValidationError(_("Zero points change nothing."))
        return value


class TransactionOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    order = serializers.SlugRelatedField(slug_field="public_id", read_only=True)

    class Meta:
        model = PointTransaction
        fields = ["id", "kind", "points", "channel", "store", "order", "reference", "reason", "shortfall", "created_at"]


class ExpiringOutput(serializers.Serializer):
    points = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class BalanceOutput(serializers.Serializer):
    customer = serializers.CharField(help_text="The customer the points belong to (the survivor of a merge).")
    balance = serializers.IntegerField()
    tier = serializers.CharField(allow_null=True)
    expiring = ExpiringOutput(many=True)

    def to_representation(self, balance) -> dict:
        """The declared fields' output, built directly (a hot read; pinned by tests/loyalty/test_api.py)."""
        return {
            "customer": str(balance["customer"]),
            "balance": int(balance["balance"]),
            "tier": None if balance["tier"] is None else str(balance["tier"]),
            "expiring": [
                {"points": int(e.points), "expires_at": iso_datetime(e.expires_at)} for e in balance["expiring"]
            ],
        }


class TransactionResult(serializers.Serializer):
    transaction = TransactionOutput()
    balance = serializers.IntegerField()
