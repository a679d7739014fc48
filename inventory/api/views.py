"""Inventory endpoints of the integration contract (shared/API.md): availability, reservations, stock sync."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.auth import api_actor
from crm.api.idempotency import HEADER, IDEMPOTENCY_PARAMETER, idempotent
from crm.exceptions import NotFound
from crm.models import Product, Store
from crm.selectors import get_customer

from .. import selectors
from ..models import Reservation
from ..services import cancel_reservation, create_reservation, fulfil_reservation, sync_stock_counts
from .serializers import (
    AvailabilityOutput,
    AvailabilityQuery,
    ReservationInput,
    ReservationOutput,
    StockSyncInput,
    StockSyncOutput,
    TryOnSlotOutput,
    TryOnSlotQuery,
)


class AvailabilityView(APIView):
    required_scope = "inventory:read"

    @extend_schema(
        operation_id="inventory_availability",
        summary="Available units of one SKU at every store and the EC warehouse",
        description="The EC warehouse is always listed; `prefecture` limits the stores. One page: `next` is null. "
        "An unknown SKU answers 404 `not_found`.",
        parameters=[AvailabilityQuery],
        responses=inline_serializer(
            "AvailabilityPage",
            {"results": AvailabilityOutput(many=True), "next": serializers.URLField(allow_null=True)},
        ),
    )
    def get(self, request):
        params = AvailabilityQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = selectors.availability(
            sku=params.validated_data["sku"], prefecture=params.validated_data.get("prefecture", "")
        )
        if rows is None:
            raise NotFound(_("No product with this SKU."))
        return Response({"results": AvailabilityOutput(rows, many=True).data, "next": None})


def _resolve_reservation_input(data: dict) -> dict:
    errors = {}
    store = Store.objects.filter(code=data["store"], active=True).first()
    if store is None:
        errors["store"] = [_("Unknown store.")]
    product = Product.objects.filter(sku=data["sku"]).first()
    if product is None:
        errors["sku"] = [_("Unknown SKU.")]
    customer = get_customer(data["customer"])
    if customer is None:
        errors["customer"] = [_("Unknown customer.")]
    if errors:
        raise ValidationError(errors)
    return {
        "store": store, "product": product, "customer": customer, "quantity": data["quantity"],
        "kind": data["kind"], "slot_start": data.get("slot_start"),
    }  # fmt: skip


class ReservationCreateView(APIView):
    required_scope = "inventory:write"

    @extend_schema(
        operation_id="inventory_reservations_create",
        summary="Reserve stock in a store: pickup, hold or try-on",
        request=ReservationInput,
        responses={201: ReservationOutput},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        data = ReservationInput(data=request.data)
        data.is_valid(raise_exception=True)
        reservation = create_reservation(actor=api_actor(request), **_resolve_reservation_input(data.validated_data))
        return Response(ReservationOutput(reservation).data, status=201)


def reservation_or_404(public_id: str) -> Reservation:
    reservation = Reservation.objects.filter(public_id=public_id).first()
    if reservation is None:
        raise NotFound(_("No reservation with this id."))
    return reservation


class ReservationFulfilView(APIView):
    required_scope = "inventory:write"

    @extend_schema(
        operation_id="inventory_reservations_fulfill",
        summary="Hand over: the stock leaves, the reservation is done",
        request=None,
        responses=ReservationOutput,
    )
    def post(self, request, reservation_id):
        reservation = fulfil_reservation(reservation=reservation_or_404(reservation_id), actor=api_actor(request))
        return Response(ReservationOutput(reservation).data)


class ReservationCancelView(APIView):
    required_scope = "inventory:write"

    @extend_schema(
        operation_id="inventory_reservations_cancel",
        summary="Cancel: release the stock (a handed-over reservation answers 409 invalid_state)",
        request=None,
        responses=ReservationOutput,
    )
    def post(self, request, reservation_id):
        reservation = cancel_reservation(reservation=reservation_or_404(reservation_id), actor=api_actor(request))
        return Response(ReservationOutput(reservation).data)


class StockSyncView(APIView):
    required_scope = "inventory:write"

    @extend_schema(
        operation_id="inventory_stock_sync",
        summary="POS/WMS counts for one location (up to 10,000 rows)",
        description="Valid rows are applied before the answer; bad rows are listed in `errors` with a code. "
        "A batch key (`batch`, or the Idempotency-Key header) seen before for this location answers the first "
        "result again without applying anything; with other counts, 422 `idempotency_conflict`.",
        request=StockSyncInput,
        responses=StockSyncOutput,
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        data = StockSyncInput(data=request.data)
        data.is_valid(raise_exception=True)
        store = Store.objects.filter(code=data.validated_data["store"], active=True).first()
        if store is None:
            raise ValidationError({"store": [_("Unknown store.")]})
        batch, _created = sync_stock_counts(
            store=store,
            counts=request.data["counts"],
            batch_key=data.validated_data.get("batch") or request.headers.get(HEADER),
            actor=api_actor(request),
        )
        return Response(StockSyncOutput(batch).data)


class TryOnSlotsView(APIView):
    required_scope = "inventory:read"

    @extend_schema(
        operation_id="inventory_try_on_slots",
        summary="A store's try-on slots on one day, within its opening hours, with the places left",
        description="A closed day answers an empty list. Booking a try-on (`POST /api/v1/inventory/reservations/`, "
        "kind `try_on`) at another time answers 400 `outside_opening_hours`, in a full slot 409 `slot_full`. "
        "An unknown store answers 400 naming `store`. One page: `next` is null.",
        parameters=[TryOnSlotQuery],
        responses=inline_serializer(
            "TryOnSlotPage",
            {"results": TryOnSlotOutput(many=True), "next": serializers.URLField(allow_null=True)},
        ),
    )
    def get(self, request):
        params = TryOnSlotQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        store = Store.objects.filter(code=params.validated_data["store"], active=True, kind=Store.Kind.STORE).first()
        if store is None:
            raise ValidationError({"store": [_("Unknown store.")]})
        slots = selectors.try_on_slots(store=store, day=params.validated_data["date"])
        return Response({"results": TryOnSlotOutput(slots, many=True).data, "next": None})
