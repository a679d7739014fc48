"""Catalog, Customers and Orders endpoints of the integration contract (shared/API.md). Thin:
validate, call a service or selector, serialize."""

import base64
from datetime import datetime

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..exceptions import NotFound
from ..models import AccessLogEntry, Channel, ConsentSource, Order, Product, SalesChannel, Store
from ..privacy.access_log import log_access
from ..registry import customer_timeline
from ..services import (
    cancel_order,
    collect_order,
    create_customer,
    link_channel_account,
    mark_order_ready,
    record_order,
    record_return,
    ship_order,
    update_customer,
    upsert_product,
)
from .auth import api_actor, has_scope
from .idempotency import IDEMPOTENCY_PARAMETER, idempotent
from .pagination import parse_limit
from .serializers import (
    CancelInput,
    CollectInput,
    CustomerCreateInput,
    CustomerInput,
    CustomerOutput,
    LinkedCustomerOutput,
    LinkInput,
    OrderInput,
    OrderListQuery,
    OrderOutput,
    ProductInput,
    ProductOutput,
    ReturnInput,
    ReturnOutput,
    ShipInput,
    StoreOutput,
    TimelineEntryOutput,
)


def customer_or_404(public_id: str):
    customer = selectors.get_customer(public_id)
    if customer is None:
        raise NotFound(_("No customer with this id."))
    return customer


# --- Catalog --------------------------------------------------------------------------------
class StoreListView(ListAPIView):
    required_scope = "catalog:read"
    serializer_class = StoreOutput
    cursor_ordering = "code"
    queryset = Store.objects.filter(active=True)

    @extend_schema(operation_id="stores_list", summary="Stores and the EC warehouse")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ProductFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter(field_name="sku")
    category = django_filters.CharFilter(field_name="category")
    q = django_filters.CharFilter(method="filter_q", label="name, SKU or brand")

    class Meta:
        model = Product
        fields = ["sku", "category", "q"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(sku__startswith=value) | Q(brand__icontains=value))


class ProductListView(ListAPIView):
    required_scope = "catalog:read"
    serializer_class = ProductOutput
    cursor_ordering = "sku"
    queryset = Product.objects.all()
    filterset_class = ProductFilter

    @extend_schema(operation_id="products_list", summary="Products")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ProductView(APIView):
    required_scope = "catalog:write"

    @extend_schema(
        operation_id="products_put", summary="Create or update one product",
        request=ProductInput, responses={200: ProductOutput, 201: ProductOutput}, parameters=[IDEMPOTENCY_PARAMETER],
    )  # fmt: skip
    @idempotent
    def put(self, request, sku):
        data = ProductInput(data=request.data)
        data.is_valid(raise_exception=True)
        product, created = upsert_product(sku=sku, **data.validated_data)
        return Response(ProductOutput(product).data, status=201 if created else 200)


# --- Customers ------------------------------------------------------------------------------
class CustomerFilterInput(serializers.Serializer):
    q = serializers.CharField(max_length=100, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    member_number = serializers.CharField(max_length=20, required=False, allow_blank=True)

    def validate_phone(self, value):
        from ..normalize import parse_phone

        if value and parse_phone(value) is None:
            raise serializers.ValidationError(_("Enter a valid phone number."))
        return value


class CustomerListView(ListAPIView):
    required_scopes = {"GET": "customers:read", "POST": "customers:write"}
    serializer_class = CustomerOutput
    filter_backends = []

    def get_queryset(self):
        params = CustomerFilterInput(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        criteria = {k: v for k, v in params.validated_data.items() if v and v.strip()}
        if not criteria and not has_scope(self.request, "customers:export"):
            raise ValidationError(
                {"q": [_("Give q, phone, email or member_number: listing every customer needs customers:export.")]}
            )
        return selectors.customer_search(
            query=criteria.get("q", ""), phone=criteria.get("phone", ""),
            email=criteria.get("email", ""), member_number=criteria.get("member_number", ""),
        )  # fmt: skip

    @extend_schema(
        operation_id="customers_list", summary="Search customers",
        parameters=[
            OpenApiParameter("q", str, description="Name, kana, phone, email or member number"),
            OpenApiParameter("phone", str), OpenApiParameter("email", str), OpenApiParameter("member_number", str),
        ],
    )  # fmt: skip
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        log_access(request=self.request, customers=page or (), kind=AccessLogEntry.Kind.API_SEARCH)
        return page

    @extend_schema(
        operation_id="customers_create",
        summary="Create a customer",
        request=CustomerCreateInput,
        responses={201: CustomerOutput},
    )
    def post(self, request):
        data = CustomerCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = create_customer(consent_source=ConsentSource.API, **data.validated_data)
        return Response(CustomerOutput(customer).data, status=201)


class CustomerDetailView(APIView):
    required_scopes = {"GET": "customers:read", "PATCH": "customers:write"}

    @extend_schema(
        operation_id="customers_retrieve",
        summary="One customer (a merged id answers with the survivor)",
        responses=CustomerOutput,
    )
    def get(self, request, customer_id):
        customer = customer_or_404(customer_id)
        log_access(request=request, customers=[customer], kind=AccessLogEntry.Kind.API_READ)
        return Response(CustomerOutput(customer).data)

    @extend_schema(
        operation_id="customers_partial_update",
        summary="Update profile or consent",
        request=CustomerInput,
        responses=CustomerOutput,
    )
    def patch(self, request, customer_id):
        customer = customer_or_404(customer_id)
        data = CustomerInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        customer = update_customer(customer=customer, consent_source=ConsentSource.API, **data.validated_data)
        return Response(CustomerOutput(customer).data)


class ResolveInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    external_id = serializers.CharField(max_length=255)


class CustomerResolveView(APIView):
    required_scope = "customers:read"

    @extend_schema(
        operation_id="customers_resolve",
        summary="Who is this channel account?",
        parameters=[ResolveInput],
        responses=CustomerOutput,
    )
    def get(self, request):
        params = ResolveInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        customer = selectors.resolve_customer(**params.validated_data)
        if customer is None:
            raise NotFound(_("No customer is linked to this channel account."))
        log_access(request=request, customers=[customer], kind=AccessLogEntry.Kind.API_READ)
        return Response(CustomerOutput(customer).data)


class CustomerLinkView(APIView):
    required_scope = "customers:write"

    @extend_schema(
        operation_id="customers_link",
        summary="Link a channel account to a member with proof",
        request=LinkInput,
        responses=LinkedCustomerOutput,
    )
    def post(self, request):
        data = LinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = link_channel_account(**data.validated_data)
        proof = data.validated_data
        context = {
            "linked": (proof["channel"], proof["external_id"]),
            "proved_birth_date": proof.get("birth_date") is not None and proof.get("birth_date") == customer.birth_date,
        }
        log_access(request=request, customers=[customer], kind=AccessLogEntry.Kind.API_READ)
        return Response(LinkedCustomerOutput(customer, context=context).data)


def _encode_cursor(at: datetime) -> str:
    return base64.urlsafe_b64encode(at.isoformat().encode()).decode()


def _decode_cursor(raw: str) -> datetime:
    try:
        return datetime.fromisoformat(base64.urlsafe_b64decode(raw.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError({"cursor": [_("Invalid cursor.")]}) from exc


class CustomerTimelineView(APIView):
    required_scope = "customers:read"

    @extend_schema(
        operation_id="customers_timeline", summary="Everything that happened with this customer, newest first",
        parameters=[
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
            OpenApiParameter("cursor", str),
        ],
        responses=inline_serializer("TimelinePage", {
            "results": TimelineEntryOutput(many=True), "next": serializers.URLField(allow_null=True),
        }),
    )  # fmt: skip
    def get(self, request, customer_id):
        customer = customer_or_404(customer_id)
        limit = parse_limit(request)
        log_access(request=request, customers=[customer], kind=AccessLogEntry.Kind.API_READ)
        cursor = request.query_params.get("cursor")
        before = _decode_cursor(cursor) if cursor else None
        entries = customer_timeline(customer=customer, limit=limit + 1, before=before)
        page, more = entries[:limit], len(entries) > limit
        next_url = None
        if more:
            next_url = request.build_absolute_uri(f"{request.path}?limit={limit}&cursor={_encode_cursor(page[-1].at)}")
        return Response({"results": TimelineEntryOutput(page, many=True).data, "next": next_url})


# --- Orders ---------------------------------------------------------------------------------
class OrderCreateView(ListAPIView):
    required_scope = "orders:write"
    serializer_class = OrderOutput
    filter_backends = []

    def get_queryset(self):
        params = OrderListQuery(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        criteria, errors = params.validated_data, {}
        customer = store = None
        if criteria.get("customer"):
            customer = selectors.get_customer(criteria["customer"])
            if customer is None:
                errors["customer"] = [_("Unknown customer.")]
        if criteria.get("store"):
            store = Store.objects.filter(code=criteria["store"]).first()
            if store is None:
                errors["store"] = [_("Unknown store.")]
        if errors:
            raise ValidationError(errors)
        return selectors.order_list(customer=customer, status=criteria.get("status", ""), store=store)

    @extend_schema(
        operation_id="orders_list",
        summary="Orders, newest first (where is my order?)",
        description="`store` matches the selling store, the location that ships and the pickup store. "
        "An unknown customer or store answers 400 naming the parameter.",
        parameters=[OrderListQuery],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="orders_create",
        summary="Record a sale from any channel",
        request=OrderInput,
        responses={
            201: OrderOutput,
            200: OrderOutput,
            (409, "application/problem+json"): OpenApiResponse(
                inline_serializer(
                    "OrderConflictProblem",
                    {
                        "type": serializers.CharField(),
                        "title": serializers.CharField(),
                        "status": serializers.IntegerField(),
                        "detail": serializers.CharField(),
                        "code": serializers.CharField(
                            help_text="out_of_stock, insufficient_points, reference_conflict, idempotency_in_progress"
                        ),
                        "errors": serializers.DictField(
                            child=serializers.ListField(child=serializers.CharField()), required=False
                        ),
                        "alternatives": serializers.ListField(
                            child=serializers.CharField(),
                            required=False,
                            help_text="out_of_stock of a pickup order: codes of stores in the customer's prefecture "
                            "that have every line",
                        ),
                    },
                ),
                description="Conflict: out_of_stock (a pickup order also lists `alternatives`), insufficient_points, "
                "reference_conflict, idempotency_in_progress",
            ),
        },
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request):
        data = OrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        order, created = record_order(**resolve_order_references(data.validated_data))
        if not created:  # a new order comes back with its lines, store and customer in hand
            order = selectors.order_with_lines().get(pk=order.pk)
        return Response(OrderOutput(order).data, status=201 if created else 200)


def resolve_order_references(data: dict) -> dict:
    """Turn codes and ids from the request into objects; every unknown one is a 400 naming its field."""
    errors = {}
    store_code = data.pop("store", None)
    if store_code:
        store = selectors.active_store(store_code)
        if store is None:
            errors["store"] = [_("Unknown store.")]
    elif data["channel"] in (SalesChannel.EC, SalesChannel.APP):
        store = selectors.ec_warehouse()
        if store is None:
            errors["store"] = [_("No EC warehouse is set up; name the shipping store.")]
    else:
        errors["store"] = [_("This field is required for this channel.")]
    fulfilment = data.pop("fulfilment", None)
    if fulfilment:
        fulfilment_store = None
        if fulfilment.get("store"):
            fulfilment_store = Store.objects.filter(code=fulfilment["store"], active=True).first()
            if fulfilment_store is None:
                errors["fulfilment.store"] = [_("Unknown store.")]
        elif fulfilment["type"] == "pickup":
            errors["fulfilment.store"] = [_("A pickup order names the store that hands it over.")]
        if fulfilment["type"] == "ship" and fulfilment_store is not None:
            if store_code and store_code != fulfilment_store.code:
                errors["fulfilment.store"] = [_("Differs from store: name the shipping location once.")]
            store = fulfilment_store  # the location that ships
        data["fulfilment"] = {"type": fulfilment["type"], "store": fulfilment_store}
    customer_id, identity = data.pop("customer", None), data.pop("customer_identity", None)
    customer = None
    if customer_id and identity:
        errors["customer"] = [_("Give either customer or customer_identity, not both.")]
    elif customer_id:
        customer = selectors.get_customer(customer_id)
        if customer is None:
            errors["customer"] = [_("Unknown customer.")]
    elif identity:
        customer = selectors.resolve_customer(**identity)
        if customer is None:
            errors["customer_identity"] = [_("No customer is linked to this channel account.")]
    skus = {line["sku"] for line in data["lines"]}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    for i, line in enumerate(data["lines"]):
        if line["sku"] not in products:
            errors[f"lines.{i}.sku"] = [_("Unknown SKU.")]
        if line.get("reservation") and data["channel"] != SalesChannel.STORE:
            errors[f"lines.{i}.reservation"] = [_("Only a store sale hands held units over.")]
    if errors:
        raise ValidationError(errors)
    lines = [{"product": products[line["sku"]], "quantity": line["quantity"], "unit_price": line["unit_price"],
              "reservation": line.get("reservation", "")}
             for line in data["lines"]]  # fmt: skip
    return {**data, "store": store, "customer": customer, "lines": lines}


class OrderDetailView(APIView):
    required_scope = "orders:write"

    @extend_schema(operation_id="orders_retrieve", summary="One order", responses=OrderOutput)
    def get(self, request, order_id):
        order = selectors.order_with_lines().filter(public_id=order_id).first()
        if order is None:
            raise NotFound(_("No order with this id."))
        return Response(OrderOutput(order).data)


class OrderReturnView(APIView):
    required_scope = "orders:write"

    @extend_schema(
        operation_id="orders_returns_create",
        summary="Return some lines of an order",
        request=ReturnInput,
        responses={201: ReturnOutput},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request, order_id):
        order = Order.objects.filter(public_id=order_id).first()
        if order is None:
            raise NotFound(_("No order with this id."))
        data = ReturnInput(data=request.data)
        data.is_valid(raise_exception=True)
        order_return = record_return(order=order, actor=api_actor(request), **data.validated_data)
        return Response(ReturnOutput(order_return).data, status=201)


def order_or_404(public_id: str) -> Order:
    order = Order.objects.filter(public_id=public_id).first()
    if order is None:
        raise NotFound(_("No order with this id."))
    return order


def _order_answer(order: Order) -> Response:
    return Response(OrderOutput(selectors.order_with_lines().get(pk=order.pk)).data)


class OrderShipView(APIView):
    required_scope = "orders:write"

    @extend_schema(
        operation_id="orders_ship",
        summary="A delivery order has left: placed → shipped, with carrier and tracking number",
        description="Other states (a pickup order, shipped, cancelled, a store sale) answer 409 `invalid_state`.",
        request=ShipInput,
        responses=OrderOutput,
    )
    def post(self, request, order_id):
        order = order_or_404(order_id)
        data = ShipInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _order_answer(ship_order(order=order, actor=api_actor(request), **data.validated_data))


class OrderReadyView(APIView):
    required_scope = "orders:write"

    @extend_schema(
        operation_id="orders_ready",
        summary="A pickup order waits at its store: placed → ready_for_pickup; the customer is mailed once",
        description="Other states answer 409 `invalid_state`.",
        request=None,
        responses=OrderOutput,
    )
    def post(self, request, order_id):
        return _order_answer(mark_order_ready(order=order_or_404(order_id), actor=api_actor(request)))


class OrderCollectView(APIView):
    required_scope = "orders:write"

    @extend_schema(
        operation_id="orders_collect",
        summary="Hand a pickup order over against its code: ready_for_pickup → collected",
        description="A wrong code answers 422 `pickup_code_mismatch`; other states 409 `invalid_state`. "
        "The held units leave the store once.",
        request=CollectInput,
        responses=OrderOutput,
    )
    def post(self, request, order_id):
        order = order_or_404(order_id)
        data = CollectInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _order_answer(collect_order(order=order, actor=api_actor(request), **data.validated_data))


class OrderCancelView(APIView):
    required_scope = "orders:write"

    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel before it has left: stock released, redeemed points given back, earned points taken back",
        description="Only `placed` and `ready_for_pickup` orders; others answer 409 `invalid_state`.",
        request=CancelInput,
        responses=OrderOutput,
    )
    def post(self, request, order_id):
        order = order_or_404(order_id)
        data = CancelInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        return _order_answer(cancel_order(order=order, actor=api_actor(request), **data.validated_data))
