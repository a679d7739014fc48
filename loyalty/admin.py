"""Admin for earn rules, tiers and campaigns (editable) and for accounts with their ledger (read-only:
the ledger is written by services only; corrections go through the adjust form or API)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from crm.admin import ReadOnlyAdmin, ReadOnlyInline
from crm.exceptions import DomainError

from .models import (
    EarnRule,
    PointAccount,
    PointAdjustment,
    PointCampaign,
    PointLot,
    PointTransaction,
    Tier,
    TierChange,
)
from .services import approve_point_adjustment, reject_point_adjustment


@admin.register(EarnRule)
class EarnRuleAdmin(admin.ModelAdmin):
    list_display = ["channel", "points_per_unit", "yen_per_unit", "active"]
    list_editable = ["active"]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "min_spend", "multiplier"]


@admin.register(PointCampaign)
class PointCampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "multiplier", "starts_at", "ends_at", "category", "store", "channel", "active"]
    list_filter = ["active", "channel"]
    autocomplete_fields = []
    raw_id_fields = ["store"]


class TransactionInline(ReadOnlyInline):
    model = PointTransaction
    fields = ["public_id", "created_at", "kind", "points", "channel", "store", "order", "reference", "reason",
              "actor", "api_key", "approved_by", "shortfall"]  # fmt: skip
    readonly_fields = fields
    ordering = ["-public_id"]
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("store", "order", "actor", "api_key", "approved_by")


class LotInline(ReadOnlyInline):
    model = PointLot
    fields = ["points", "remaining", "expires_at", "created_at"]
    readonly_fields = fields
    ordering = ["expires_at"]


class TierChangeInline(ReadOnlyInline):
    model = TierChange
    fields = ["changed_at", "from_tier", "to_tier", "spend"]
    readonly_fields = fields


@admin.register(PointAccount)
class PointAccountAdmin(ReadOnlyAdmin):
    list_display = ["customer", "balance", "tier", "lifetime_spend", "created_at"]
    list_filter = ["tier"]
    list_select_related = ["customer", "tier"]
    search_fields = ["customer__public_id", "customer__member_number"]
    show_full_result_count = False
    inlines = [LotInline, TransactionInline, TierChangeInline]


@admin.register(PointTransaction)
class PointTransactionAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "created_at", "kind", "points", "channel", "store", "reference", "actor", "api_key"]
    list_filter = ["kind", "channel"]
    list_select_related = ["store", "actor", "api_key"]
    search_fields = ["public_id", "reference", "account__customer__public_id"]
    show_full_result_count = False
    date_hierarchy = "created_at"


@admin.register(PointAdjustment)
class PointAdjustmentAdmin(ReadOnlyAdmin):
    """Held adjustments; approving or rejecting goes through the services (second person, once)."""

    list_display = ["public_id", "created_at", "customer", "points", "reason", "requested_by", "requested_by_key",
                    "status", "decided_by"]  # fmt: skip
    list_filter = ["status"]
    list_select_related = ["customer", "requested_by", "requested_by_key", "decided_by"]
    search_fields = ["public_id", "reference", "customer__public_id"]
    actions = ["approve", "reject"]

    def _decide(self, request, queryset, decide):
        done = 0
        for adjustment in queryset.filter(status=PointAdjustment.Status.PENDING):
            try:
                decide(adjustment=adjustment, approver=request.user)
            except DomainError as error:
                self.message_user(request, f"{adjustment.public_id}: {error.detail}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, _("%(n)d adjustment(s) decided.") % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Approve the selected adjustments"), permissions=["approve"])
    def approve(self, request, queryset):
        self._decide(request, queryset, approve_point_adjustment)

    @admin.action(description=_("Reject the selected adjustments"), permissions=["approve"])
    def reject(self, request, queryset):
        self._decide(request, queryset, reject_point_adjustment)

    def has_approve_permission(self, request):
        return request.user.has_perm("loyalty.approve_pointadjustment")
