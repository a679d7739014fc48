from collections.abc import Mapping
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Channel, ChannelIdentity, Customer, Order, OrderLine, OrderReturn, Product, SalesChannel, Store
from ..prefectures import PREFECTURE_CHOICES
from ..registry import customer_summaries
from ..selectors import identity_pairs


def iso_datetime(value) -> str | None:
    """What DRF's DateTimeField gives with DATETIME_FORMAT iso-8601: local time with its offset."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses fields it does not know (a typo must not be silently dropped)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - {name for name, f in self.fields.items() if not f.read_only})
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


# Money columns are 32-bit on PostgreSQL (PositiveIntegerField): an order's total must fit them.
MAX_ORDER_YEN = 2_147_483_647
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


class MomentField(serializers.DateTimeField):
    """A moment a retailer's records can hold: from 2000 up to 2100, so that what is computed from it
    (a points expiry a year later, a threading window) stays within the calendar."""

    default_error_messages = {"out_of_range": _("Give a time between 2000 and 2099.")}

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not _EARLIEST <= moment < _LATEST:
            self.fail("out_of_range")
        return moment


class StoreCodeField(serializers.SlugRelatedField):
    default_error_messages = {"does_not_exist": _("Unknown store."), "invalid": _("Unknown store.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Store.objects.filter(active=True))
        super().__init__(slug_field="code", **kwargs)


class IdentitySerializer(StrictSerializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    external_id = serializers.CharField(max_length=255)


class PrefectureField(serializers.ChoiceField):
    """One of the 47 prefectures. DRF copies every declared field for each serializer instance by
    deep-copying the arguments it was built with; the prefecture list is a constant, so it is passed
    here rather than by the caller and is not copied (the copy was a fifth of the CPU of a stock
    availability read with its `prefecture` parameter)."""

    def __init__(self, **kwargs):
        super().__init__(choices=PREFECTURE_CHOICES, **kwargs)


class IdentityOutput(serializers.ModelSerializer):
    class Meta:
        model = ChannelIdentity
        fields = ["channel", "external_id"]


class CustomerListSerializer(serializers.ListSerializer):
    """Fetches summary fields (points, tier) for the whole page in one call per provider."""

    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        self.child.context["summaries"] = customer_summaries(items)
        self.child.context["identities"] = identity_pairs(c.pk for c in items)
        return [self.child.to_representation(item) for item in items]


class CustomerOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    home_store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    identities = IdentityOutput(many=True, read_only=True)
    points_balance = serializers.SerializerMethodField()
    tier = serializers.SerializerMethodField()
    erased = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        list_serializer_class = CustomerListSerializer
        fields = [
            "id", "member_number", "family_name", "given_name", "family_name_kana", "given_name_kana", "email",
            "phone", "birth_date", "postal_code", "prefecture", "address", "home_store", "email_opt_in",
            "sms_opt_in", "identities", "points_balance", "tier", "created_at", "erased",
        ]  # fmt: skip

    def _summary(self, customer) -> dict:
        summaries = self.context.get("summaries")
        if summaries is None:
            summaries = customer_summaries([customer])
        return summaries.get(customer.pk, {})

    def _identities(self, customer) -> list[tuple[str, str]]:
        identities = self.context.get("identities")
        if identities is None:
            identities = identity_pairs([customer.pk])
        return identities.get(customer.pk, [])

    def to_representation(self, customer) -> dict:
        """The declared fields' output, built directly: this body answers the hottest reads, and
        DRF's per-field machinery (a field object bound and run per attribute) cost more than their
        queries. tests/crm/test_api_customers.py pins it to what the declared fields give."""
        summary = self._summary(customer)
        return {
            "id": customer.public_id,
            "member_number": customer.member_number,
            "family_name": customer.family_name,
            "given_name": customer.given_name,
            "family_name_kana": customer.family_name_kana,
            "given_name_kana": customer.given_name_kana,
            "email": customer.email,
            "phone": customer.phone,
            "birth_date": customer.birth_date.isoformat() if customer.birth_date else None,
            "postal_code": customer.postal_code,
            "prefecture": customer.prefecture,
            "address": customer.address,
            "home_store": customer.home_store.code if customer.home_store_id else None,
            "email_opt_in": bool(customer.email_opt_in),
            "sms_opt_in": bool(customer.sms_opt_in),
            "identities": [{"channel": channel, "external_id": ext} for channel, ext in self._identities(customer)],
            "points_balance": summary.get("points_balance", 0),
            "tier": summary.get("tier"),
            "created_at": iso_datetime(customer.created_at),
            "erased": customer.erased_at is not None,
        }

    @extend_schema_field(serializers.BooleanField())
    def get_erased(self, customer) -> bool:
        """True once the person's data was erased (APPI): every personal field is then empty."""
        return customer.erased_at is not None

    @extend_schema_field(serializers.IntegerField())
    def get_points_balance(self, customer) -> int:
        return self._summary(customer).get("points_balance", 0)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_tier(self, customer) -> str | None:
        return self._summary(customer).get("tier")


class LinkedCustomerOutput(CustomerOutput):
    """The customer for the caller's autofill after a link: the birth date only when it was the
    proof, and only the account just linked (not the member's other channel accounts)."""

    def to_representation(self, customer):
        data = super().to_representation(customer)
        if not self.context.get("proved_birth_date"):
            data["birth_date"] = None
        linked = self.context.get("linked")
        data["identities"] = [i for i in data["identities"] if (i["channel"], i["external_id"]) == linked]
        return data


class CustomerInput(StrictSerializer):
    member_number = serializers.CharField(max_length=20, required=False)
    family_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
    given_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
    family_name_kana = serializers.CharField(max_length=50, required=False, allow_blank=True)
    given_name_kana = serializers.CharField(max_length=50, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    postal_code = serializers.CharField(max_length=8, required=False, allow_blank=True)
    prefecture = PrefectureField(required=False, allow_blank=True)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    home_store = StoreCodeField(required=False, allow_null=True)
    email_opt_in = serializers.BooleanField(required=False)
    sms_opt_in = serializers.BooleanField(required=False)


class CustomerCreateInput(CustomerInput):
    identities = IdentitySerializer(many=True, required=False, max_length=20)


class LinkInput(StrictSerializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    external_id = serializers.CharField(max_length=255)
    member_number = serializers.CharField(max_length=20)
    birth_date = serializers.DateField(required=False)
    phone = serializers.CharField(max_length=32, required=False)


class StoreOutput(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["code", "name", "kind", "prefecture", "address", "phone"]


class ProductOutput(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["sku", "name", "category", "brand", "price", "active", "updated_at"]


class ProductInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    category = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    brand = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    price = serializers.IntegerField(min_value=0, max_value=100_000_000)
    active = serializers.BooleanField(required=False, default=True)


class OrderLineInput(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    unit_price = serializers.IntegerField(min_value=0, max_value=100_000_000)
    reservation = serializers.CharField(
        max_length=32, required=False, allow_blank=True,
        help_text="Store sales: a hold's id or code, or a pickup order's code; the line takes the held units.",
    )  # fmt: skip


class FulfilmentInput(StrictSerializer):
    type = serializers.ChoiceField(choices=Order.Fulfilment.choices)
    store = serializers.CharField(
        max_length=32, required=False, allow_null=True,
        help_text="pickup: the store that hands the order over (required); ship: the location that ships.",
    )  # fmt: skip


class OrderInput(StrictSerializer):
    source = serializers.CharField(max_length=64)
    external_ref = serializers.CharField(max_length=128)
    channel = serializers.ChoiceField(choices=SalesChannel.choices)
    store = serializers.CharField(max_length=32, required=False, allow_null=True)
    customer = serializers.CharField(max_length=32, required=False, allow_null=True)
    customer_identity = IdentitySerializer(required=False, allow_null=True)
    ordered_at = MomentField()
    lines = OrderLineInput(many=True, min_length=1, max_length=500)
    redeem_points = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False, default=0)
    coupon_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    fulfilment = FulfilmentInput(required=False, allow_null=True)

    def validate_lines(self, lines):
        if sum(line["quantity"] * line["unit_price"] for line in lines) > MAX_ORDER_YEN:
            raise serializers.ValidationError(
                _("The order's total may be at most ¥%(n)s.") % {"n": f"{MAX_ORDER_YEN:,}"}
            )
        return lines


class OrderLineOutput(serializers.ModelSerializer):
    name = serializers.CharField(source="product.name")

    class Meta:
        model = OrderLine
        fields = ["line_number", "sku", "name", "quantity", "unit_price", "amount", "returned_quantity"]


class OrderListSerializer(serializers.ListSerializer):
    """A page of orders asks for its customers' points balances once, not once per order."""

    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        customers = {order.customer.pk: order.customer for order in items if order.customer is not None}
        self.child.context["summaries"] = customer_summaries(list(customers.values()))
        return [self.child.to_representation(item) for item in items]


class FulfilmentOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=Order.Fulfilment.choices)
    store = serializers.CharField(help_text="The pickup store, or the location that ships.")
    pickup_code = serializers.CharField(allow_null=True, help_text="Pickup orders only.")


class OrderOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    fulfilled_from = serializers.SerializerMethodField()
    customer = serializers.SlugRelatedField(slug_field="public_id", read_only=True, allow_null=True)
    points_balance = serializers.SerializerMethodField()
    fulfilment = serializers.SerializerMethodField()
    lines = OrderLineOutput(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id", "source", "external_ref", "channel", "store", "fulfilled_from", "customer", "ordered_at",
            "subtotal", "points_redeemed", "discount", "total", "points_earned", "points_balance", "returned_amount",
            "status", "fulfilment", "carrier", "tracking_number", "shipped_at", "ready_at", "collected_at",
            "cancelled_at", "lines", "created_at",
        ]  # fmt: skip
        list_serializer_class = OrderListSerializer

    @extend_schema_field(FulfilmentOutput(allow_null=True))
    def get_fulfilment(self, order) -> dict | None:
        if not order.fulfilment_type:
            return None
        store = (order.fulfilled_from or order.store).code
        code = order.pickup_code if order.fulfilment_type == Order.Fulfilment.PICKUP else None
        return {"type": order.fulfilment_type, "store": store, "pickup_code": code}

    def to_representation(self, order) -> dict:
        """The declared fields' output, built directly (the answer of the busiest write; DRF's field
        objects, built and bound per request, cost a tenth of an order). tests/crm/test_pipeline.py
        pins it to what the declared fields give."""
        return {
            "id": order.public_id,
            "source": order.source,
            "external_ref": order.external_ref,
            "channel": order.channel,
            "store": order.store.code,
            "fulfilled_from": self.get_fulfilled_from(order),
            "customer": order.customer.public_id if order.customer_id else None,
            "ordered_at": iso_datetime(order.ordered_at),
            "subtotal": order.subtotal,
            "points_redeemed": order.points_redeemed,
            "discount": order.discount,
            "total": order.total,
            "points_earned": order.points_earned,
            "points_balance": self.get_points_balance(order),
            "returned_amount": order.returned_amount,
            "status": order.status,
            "fulfilment": self.get_fulfilment(order),
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "shipped_at": iso_datetime(order.shipped_at),
            "ready_at": iso_datetime(order.ready_at),
            "collected_at": iso_datetime(order.collected_at),
            "cancelled_at": iso_datetime(order.cancelled_at),
            "lines": [
                {
                    "line_number": line.line_number,
                    "sku": line.sku,
                    "name": line.product.name,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "amount": line.amount,
                    "returned_quantity": line.returned_quantity,
                }
                for line in order.lines.all()
            ],
            "created_at": iso_datetime(order.created_at),
        }

    @extend_schema_field(serializers.CharField())
    def get_fulfilled_from(self, order) -> str:
        return (order.fulfilled_from or order.store).code

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_points_balance(self, order) -> int | None:
        if order.customer is None:
            return None
        answer = getattr(order, "answer", None)  # what the order pipeline's steps just decided
        if answer and "points_balance" in answer:
            return answer["points_balance"]
        summaries = self.context.get("summaries")
        if summaries is None:
            summaries = customer_summaries([order.customer])
        return summaries.get(order.customer.pk, {}).get("points_balance", 0)


class ReturnLineInput(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)


class ReturnInput(StrictSerializer):
    lines = ReturnLineInput(many=True, min_length=1, max_length=500)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ReturnOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    lines = serializers.SerializerMethodField()
    order = serializers.SerializerMethodField()

    class Meta:
        model = OrderReturn
        fields = ["id", "amount", "reason", "lines", "order", "created_at"]

    @extend_schema_field(ReturnLineInput(many=True))
    def get_lines(self, order_return) -> list[dict]:
        return [
            {"sku": line.order_line.sku, "quantity": line.quantity, "amount": line.amount}
            for line in order_return.lines.select_related("order_line")
        ]

    @extend_schema_field(OrderOutput)
    def get_order(self, order_return) -> dict:
        return OrderOutput(order_return.order, context=self.context).data


class TimelineEntryOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    id = serializers.CharField()
    title = serializers.CharField()
    channel = serializers.CharField()
    detail = serializers.DictField()


class ShipInput(StrictSerializer):
    carrier = serializers.CharField(max_length=64)
    tracking_number = serializers.CharField(max_length=64)


class CollectInput(StrictSerializer):
    pickup_code = serializers.CharField(max_length=32)


class CancelInput(StrictSerializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class OrderListQuery(serializers.Serializer):
    customer = serializers.CharField(max_length=32, required=False)
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    store = serializers.CharField(max_length=32, required=False, help_text="Selling, shipping or pickup store code.")
