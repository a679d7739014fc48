"""Insights endpoints of the contract (shared/API.md): the KPI report, and the recommendation endpoints
listed under Customers and Catalog, which insights serves (the root URLconf puts its routes ahead of
crm's). Thin: validate, call a selector, serialize."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import selectors as crm_selectors
from crm.api.pagination import parse_limit
from crm.exceptions import NotFound
from crm.models import Product, Store

from ..kpis import kpi_report
from ..params import CHANNELS, parse_report
from ..recommendations import MAX_LIMIT, bought_together, recommended_products
from .serializers import KpiReportOutput, SuggestionOutput

DEFAULT_LIMIT = 10


def _suggestions_page(name: str):
    return inline_serializer(
        name, {"results": SuggestionOutput(many=True), "next": serializers.URLField(allow_null=True)}
    )


class KpiView(APIView):
    required_scope = "insights:read"

    @extend_schema(
        operation_id="insights_kpis", summary="KPI figures of a period and of the period before it",
        parameters=[
            OpenApiParameter("from", str, description="First day, YYYY-MM-DD (Asia/Tokyo); default: 27 days before"
                             " `to`"),
            OpenApiParameter("to", str, description="Last day, included; default: today. At most 5 years after"
                             " `from`."),
            OpenApiParameter("store", str, description="Store code: that store's customers (home store)"),
            OpenApiParameter("prefecture", str, description="Customers living in this prefecture"),
            OpenApiParameter("channel", str, enum=CHANNELS, description="Sales or contact channel"),
        ],
        responses=KpiReportOutput,
    )  # fmt: skip
    def get(self, request):
        period, scope = parse_report(request.query_params)
        return Response(kpi_report(period=period, scope=scope).as_dict())


class CustomerRecommendationsView(APIView):
    required_scope = "customers:read"

    @extend_schema(
        operation_id="customers_recommendations", summary="Products to show this customer",
        parameters=[
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                description=f"1–{MAX_LIMIT}, default {DEFAULT_LIMIT}",
            ),
            OpenApiParameter("available_at", str, description="Store code: only products available there now "
                             "(default: available online)"),
        ],
        responses=_suggestions_page("Recommendations"),
    )  # fmt: skip
    def get(self, request, customer_id):
        customer = crm_selectors.get_customer(customer_id)
        if customer is None:
            raise NotFound(_("No customer with this id."))
        limit = parse_limit(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        store = None
        code = request.query_params.get("available_at", "")
        if code:
            store = Store.objects.filter(code=code, active=True).first()
            if store is None:
                raise ValidationError({"available_at": [_("Unknown store.")]})
        suggestions = recommended_products(customer=customer, limit=limit, store=store)
        return Response({"results": SuggestionOutput(suggestions, many=True).data, "next": None})


class BoughtTogetherView(APIView):
    required_scope = "catalog:read"

    @extend_schema(
        operation_id="products_bought_together", summary="Products most often bought with this one",
        parameters=[OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                description=f"1–{MAX_LIMIT}, default {DEFAULT_LIMIT}",
            )],
        responses=_suggestions_page("BoughtTogether"),
    )  # fmt: skip
    def get(self, request, sku):
        product = Product.objects.filter(sku=sku).first()
        if product is None:
            raise NotFound(_("No product with this SKU."))
        limit = parse_limit(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        suggestions = bought_together(product=product, limit=limit)
        return Response({"results": SuggestionOutput(suggestions, many=True).data, "next": None})
