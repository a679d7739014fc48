"""Admin for earn rules, tiers and campaigns (editable) and for accounts with their ledger (read-only:
the ledger is written by services only; corrections go through the adjust form or API)."""

from django.contrib import admin

from crm.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import EarnRule, PointAccount, PointCampaign, PointLot, PointTransaction, Tier, TierChange


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
              "actor", "shortfall"]  # fmt: skip
    readonly_fields = fields
    ordering = ["-public_id"]
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("store", "order", "actor")


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
    list_display = ["public_id", "created_at", "kind", "points", "channel", "store", "reference", "actor"]
    list_filter = ["kind", "channel"]
    list_select_related = ["store", "actor"]
    search_fields = ["public_id", "reference", "account__customer__public_id"]
    show_full_result_count = False
    date_hierarchy = "created_at"
