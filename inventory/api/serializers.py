from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.api.serializers import MomentField, PrefectureField, StrictSerializer

from ..models import Reservation


class AvailabilityQuery(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    prefecture = PrefectureField(required=False, allow_blank=True)


class AvailabilityOutput(serializers.Serializer):
    store = serializers.CharField(help_text="Location code")
    store_name = serializers.CharField()
    kind = serializers.ChoiceField(choices=[("store", "store"), ("warehouse", "warehouse")])
    prefecture = serializers.CharField()
    available = serializers.IntegerField(help_text="On hand less reserved")

    def to_representation(self, row) -> dict:
        """The declared fields' output, built directly (a hot read; pinned by tests/inventory/test_api.py)."""
        return {
            "store": str(row.store),
            "store_name": str(row.store_name),
            "kind": row.kind,
            "prefecture": str(row.prefecture),
            "available": int(row.available),
        }


class ReservationInput(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    store = serializers.CharField(max_length=32)
    quantity = serializers.IntegerField(min_value=1, max_value=99)
    kind = serializers.ChoiceField(choices=Reservation.Kind.choices)
    customer = serializers.CharField(max_length=32)
    slot_start = MomentField(required=False, allow_null=True, help_text="Required for try_on")


class ReservationOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    store = serializers.CharField(source="store.code")
    sku = serializers.CharField(source="product.sku")
    customer = serializers.CharField(source="customer.public_id")

    class Meta:
        model = Reservation
        fields = [
            "id", "pickup_code", "expires_at", "status", "kind", "store", "sku", "quantity", "customer",
            "slot_start", "created_at", "closed_at",
        ]  # fmt: skip


class CountRow(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    on_hand = serializers.IntegerField(min_value=0)


class StockSyncInput(StrictSerializer):
    """Rows are checked one by one by the service (a bad row is reported, not fatal); this only
    describes them for the schema."""

    store = serializers.CharField(max_length=32)
    counts = serializers.ListField(child=serializers.JSONField(), max_length=10_000, help_text=_("[{sku, on_hand}]"))
    batch = serializers.CharField(
        max_length=255, required=False, help_text="Batch key; a resent batch is applied once (or Idempotency-Key)."
    )


class RowError(serializers.Serializer):
    row = serializers.IntegerField(help_text="0-based index into counts")
    sku = serializers.CharField(allow_null=True)
    code = serializers.ChoiceField(
        choices=["invalid_row", "invalid_on_hand", "duplicate_sku", "unknown_sku", "below_reserved"]
    )


class StockSyncOutput(serializers.Serializer):
    batch = serializers.CharField(source="public_id")
    applied = serializers.IntegerField()
    changed = serializers.IntegerField()
    errors = RowError(many=True)


class TryOnSlotQuery(serializers.Serializer):
    store = serializers.CharField(max_length=32, help_text="Store code")
    date = serializers.DateField(
        help_text="A day in the store's time zone (Asia/Tokyo), YYYY-MM-DD, from yesterday to 366 days ahead"
    )

    def validate_date(self, value):
        # Slots are booked for the days ahead; a far-off day only invites nonsense (year 0222 in
        # Asia/Tokyo has a local-mean-time offset of +09:18:59, which is no RFC 3339 offset).
        today = timezone.localdate()
        if not today - timedelta(days=1) <= value <= today + timedelta(days=366):
            raise serializers.ValidationError(_("Choose a day from today to a year ahead."))
        return value


class TryOnSlotOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    free = serializers.IntegerField(help_text="Places left; 0 when full or already begun")
