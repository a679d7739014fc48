"""Offers and coupons endpoints (issue 18): create an offer, issue a code, check a code at checkout.
Thin: validate, call a service, serialize."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.auth import ApiKeyRateThrottle, api_actor
from crm.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from crm.api.serializers import MAX_ORDER_YEN, MomentField, OrderLineInput, StrictSerializer
from crm.exceptions import NotFound
from crm.models import Product
from crm.selectors import get_customer

from .. import selectors
from ..models import Offer
from ..services.coupons import CONTRACT_CODE, check_coupon, create_offer, format_code, issue_coupon


class OfferInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Offer.Kind.choices)
    value = serializers.IntegerField(min_value=1, max_value=MAX_ORDER_YEN)
    min_spend = serializers.IntegerField(min_value=0, max_value=MAX_ORDER_YEN, required=False, default=0)
    categories = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=100
    )
    valid_from = MomentField()
    valid_until = MomentField()
    per_customer_limit = serializers.IntegerField(min_value=1, max_value=1000, required=False, allow_null=True)


class OfferOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    kind = serializers.CharField()
    value = serializers.IntegerField()
    min_spend = serializers.IntegerField()
    categories = serializers.ListField(child=serializers.CharField())
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()
    per_customer_limit = serializers.IntegerField(allow_null=True)


class OfferReportOutput(OfferOutput):
    counts = serializers.DictField(child=serializers.IntegerField())
    by_channel = serializers.DictField(child=serializers.DictField())
    by_store = serializers.DictField(child=serializers.DictField())


class CodeInput(StrictSerializer):
    customer = serializers.CharField(max_length=32, required=False, allow_null=True)
    max_uses = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, default=1)


class CodeOutput(serializers.Serializer):
    code = serializers.CharField()
    printed = serializers.CharField(help_text="The code in groups of four, as printed")
    offer = serializers.CharField()
    customer = serializers.CharField(allow_null=True)
    max_uses = serializers.IntegerField()


class ValidateInput(StrictSerializer):
    code = serializers.CharField(max_length=64)
    customer = serializers.CharField(max_length=32, required=False, allow_null=True)
    lines = OrderLineInput(many=True, min_length=1, max_length=500)


class ValidateOutput(serializers.Serializer):
    valid = serializers.BooleanField()
    discount = serializers.IntegerField()
    reason = serializers.CharField(
        allow_null=True,
        help_text="null when valid; else coupon_used, coupon_expired, coupon_not_applicable or coupon_unknown",
    )
    detail = serializers.CharField(help_text="The reason in words, for the till or checkout page")


def _offer_or_404(public_id: str) -> Offer:
    offer = selectors.offer_by_public_id(public_id)
    if offer is None:
        raise NotFound(_("No offer with this id."))
    return offer


def _customer_field(public_id: str | None):
    if not public_id:
        return None
    customer = get_customer(public_id)
    if customer is None:
        raise ValidationError({"customer": [_("Unknown customer.")]})
    return customer


class OfferCreateView(APIView):
    required_scope = "campaigns:write"

    @extend_schema(
        operation_id="offers_create", summary="Create an offer (what a coupon gives)",
        request=OfferInput, responses={201: OfferOutput}, parameters=[IDEMPOTENCY_PARAMETER],
    )  # fmt: skip
    @idempotent
    def post(self, request):
        data = OfferInput(data=request.data)
        data.is_valid(raise_exception=True)
        offer = create_offer(actor=api_actor(request), **data.validated_data)
        return Response(OfferOutput(offer).data, status=201)


class OfferDetailView(APIView):
    required_scope = "campaigns:read"

    @extend_schema(
        operation_id="offers_retrieve", summary="An offer with its codes and redemptions by channel and store",
        responses=OfferReportOutput,
    )  # fmt: skip
    def get(self, request, offer_id):
        offer = _offer_or_404(offer_id)
        return Response({**OfferOutput(offer).data, **selectors.offer_report(offer)})


class OfferCodeCreateView(APIView):
    required_scope = "campaigns:write"

    @extend_schema(
        operation_id="offers_codes_create", summary="Issue a coupon code (to a customer, or to anyone holding it)",
        request=CodeInput, responses={201: CodeOutput}, parameters=[IDEMPOTENCY_PARAMETER],
    )  # fmt: skip
    @idempotent
    def post(self, request, offer_id):
        offer = _offer_or_404(offer_id)
        data = CodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = _customer_field(data.validated_data.get("customer"))
        coupon = issue_coupon(offer=offer, customer=customer, max_uses=data.validated_data["max_uses"])
        return Response(
            CodeOutput(
                {
                    "code": coupon.code, "printed": format_code(coupon.code), "offer": offer.public_id,
                    "customer": customer.public_id if customer else None, "max_uses": coupon.max_uses,
                }
            ).data,
            status=201,
        )  # fmt: skip


class CouponValidateView(APIView):
    required_scope = "orders:write"

    @extend_schema(
        operation_id="coupons_validate", summary="Would this code apply to this basket? (POS and EC checkout)",
        request=ValidateInput, responses=ValidateOutput,
    )  # fmt: skip
    def post(self, request):
        data = ValidateInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = _customer_field(data.validated_data.get("customer"))
        lines = data.validated_data["lines"]
        products = {p.sku: p for p in Product.objects.filter(sku__in={line["sku"] for line in lines})}
        errors = {f"lines.{i}.sku": [_("Unknown SKU.")] for i, line in enumerate(lines) if line["sku"] not in products}
        if errors:
            raise ValidationError(errors)
        check = check_coupon(
            code=data.validated_data["code"], customer=customer, caller=ApiKeyRateThrottle().ident(request),
            lines=[{**line, "product": products[line["sku"]]} for line in lines],
        )  # fmt: skip
        reason = None if check.valid else CONTRACT_CODE.get(check.reason, check.reason)
        if reason not in (None, "coupon_used", "coupon_expired", "coupon_unknown"):
            reason = "coupon_not_applicable"
        return Response(
            ValidateOutput(
                {"valid": check.valid, "discount": check.discount, "reason": reason, "detail": check.detail}
            ).data
        )
