"""Loyalty endpoints of the integration contract (shared/API.md). Thin: validate, call a service or
selector, serialize."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.auth import api_actor
from crm.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from crm.api.views import customer_or_404
from crm.models import ApiKey

from .. import selectors
from ..models import PointAccount, PointAdjustment, PointTransaction
from ..services import redeem_points, submit_point_adjustment
from .serializers import (
    AdjustInput,
    BalanceOutput,
    PendingAdjustmentOutput,
    RedeemInput,
    TransactionOutput,
    TransactionResult,
)


def _result(txn, created: bool) -> Response:
    balance = PointAccount.objects.values_list("balance", flat=True).get(pk=txn.account_id)
    return Response(TransactionResult({"transaction": txn, "balance": balance}).data, status=201 if created else 200)


class BalanceView(APIView):
    required_scope = "loyalty:read"

    @extend_schema(
        operation_id="loyalty_retrieve", summary="Points balance, tier and lots by expiry", responses=BalanceOutput
    )
    def get(self, request, customer_id):
        customer = customer_or_404(customer_id)
        balance = selectors.customer_balance(customer)
        return Response(
            BalanceOutput(
                {
                    "customer": customer.public_id,
                    "balance": balance.balance,
                    "tier": balance.tier.code if balance.tier else None,
                    "expiring": balance.expiring,
                }
            ).data
        )


class TransactionListView(ListAPIView):
    required_scope = "loyalty:read"
    serializer_class = TransactionOutput
    cursor_ordering = "-public_id"
    queryset = PointTransaction.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.customer_transactions(customer_or_404(self.kwargs["customer_id"]))

    @extend_schema(operation_id="loyalty_transactions_list", summary="The points ledger, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RedeemView(APIView):
    required_scope = "loyalty:write"

    @extend_schema(
        operation_id="loyalty_redeem", summary="Spend points from any channel",
        description="The same `reference` again answers the original transaction with 200 and spends nothing.",
        request=RedeemInput, responses={201: TransactionResult, 200: TransactionResult},
        parameters=[IDEMPOTENCY_PARAMETER],
    )  # fmt: skip
    @idempotent
    def post(self, request, customer_id):
        customer = customer_or_404(customer_id)
        data = RedeemInput(data=request.data)
        data.is_valid(raise_exception=True)
        txn, created = redeem_points(customer=customer, actor=api_actor(request), **data.validated_data)
        return _result(txn, created)


class AdjustView(APIView):
    required_scope = "loyalty:write"

    @extend_schema(
        operation_id="loyalty_adjust", summary="Correct or award points by hand, with a reason",
        description=(
            "More points than `LOYALTY_APPROVAL_POINTS` (default 10,000, either sign), or an award that takes "
            "the key's awards of the day beyond `LOYALTY_DAILY_AWARD_POINTS` (default 50,000), are held: "
            "202 `pending_approval`, applied only when an admin other than the requester approves. "
            "The same `reference` again answers what it produced the first time."
        ),
        request=AdjustInput,
        responses={201: TransactionResult, 200: TransactionResult, 202: PendingAdjustmentOutput},
        parameters=[IDEMPOTENCY_PARAMETER],
    )  # fmt: skip
    @idempotent
    def post(self, request, customer_id):
        customer = customer_or_404(customer_id)
        data = AdjustInput(data=request.data)
        data.is_valid(raise_exception=True)
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        result, created = submit_point_adjustment(
            customer=customer, actor=api_actor(request), api_key=api_key, **data.validated_data
        )
        if isinstance(result, PointAdjustment):
            return Response(PendingAdjustmentOutput(result).data, status=202)
        return _result(result, created)
