"""Django admin for inventory. Levels, movements and sync batches are ledgers: read-only. Reservations,
transfers and discrepancies change only through services (admin actions call them)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.admin import ReadOnlyAdmin
from crm.exceptions import DomainError

from .models import (
    Discrepancy,
    OpeningHours,
    Reservation,
    StockLevel,
    StockMovement,
    StockSyncBatch,
    Transfer,
    TryOnSettings,
)
from .services import cancel_reservation, receive_transfer, resolve_discrepancy, ship_transfer


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ["store", "product", "on_hand", "reserved", "available", "updated_at"]
    list_filter = ["store__kind", "store"]
    search_fields = ["product__sku", "store__code"]
    list_select_related = ["store", "product"]
    show_full_result_count = False

    @admin.display(description=_("available"))
    def available(self, obj):
        return obj.available


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "store", "product", "kind", "on_hand_delta", "reserved_delta", "reference", "actor"]
    list_filter = ["kind", "store"]
    search_fields = ["product__sku", "reference"]
    list_select_related = ["store", "product", "actor"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(StockSyncBatch)
class StockSyncBatchAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "store", "key", "rows", "applied", "changed", "created_at"]
    list_select_related = ["store"]
    search_fields = ["public_id", "key"]


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ["public_id", "kind", "status", "store", "product", "quantity", "pickup_code", "expires_at"]
    list_filter = ["status", "kind", "store"]
    search_fields = ["public_id", "pickup_code", "customer__member_number", "product__sku"]
    list_select_related = ["store", "product"]
    readonly_fields = [f.name for f in Reservation._meta.fields]
    actions = ["cancel_selected"]

    def has_add_permission(self, request):
        return False  # created through the API or the store page, which reserve the stock

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Cancel selected reservations (release the stock)"), permissions=["change"])
    def cancel_selected(self, request, queryset):
        done = 0
        for reservation in queryset:
            try:
                cancel_reservation(reservation=reservation, actor=request.user)
                done += 1
            except DomainError as error:
                self.message_user(request, f"{reservation.public_id}: {error.detail}", messages.WARNING)
        self.message_user(request, _("%(n)d reservation(s) cancelled.") % {"n": done})


@admin.register(Discrepancy)
class DiscrepancyAdmin(admin.ModelAdmin):
    list_display = ["created_at", "store", "product", "source", "quantity", "reference", "status"]
    list_filter = ["status", "source", "store"]
    list_select_related = ["store", "product"]
    readonly_fields = [f.name for f in Discrepancy._meta.fields]
    actions = ["resolve_selected"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Mark selected as resolved"), permissions=["change"])
    def resolve_selected(self, request, queryset):
        for discrepancy in queryset:
            resolve_discrepancy(discrepancy=discrepancy, actor=request.user)
        self.message_user(request, _("Resolved."))


class TransferForm(forms.ModelForm):
    class Meta:
        model = Transfer
        fields = ["from_store", "to_store", "product", "quantity", "note"]


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    """Adding a transfer ships it (stock leaves the sending location); the action receives it."""

    form = TransferForm
    list_display = ["public_id", "from_store", "to_store", "product", "quantity", "status", "shipped_at", "received_at"]
    list_filter = ["status"]
    list_select_related = ["from_store", "to_store", "product"]
    search_fields = ["public_id", "product__sku"]
    autocomplete_fields = ["product"]
    actions = ["receive_selected"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Transfer._meta.fields] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            shipped = ship_transfer(
                from_store=obj.from_store, to_store=obj.to_store, product=obj.product, quantity=obj.quantity,
                note=obj.note, actor=request.user,
            )  # fmt: skip
        except (ValidationError, DomainError) as error:
            raise ValidationError(getattr(error, "detail", None) or error.messages) from error
        obj.pk, obj.public_id = shipped.pk, shipped.public_id

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.path)

    @admin.action(description=_("Receive selected transfers"), permissions=["change"])
    def receive_selected(self, request, queryset):
        for transfer in queryset:
            receive_transfer(transfer=transfer, actor=request.user)
        self.message_user(request, _("Received."))


@admin.register(OpeningHours)
class OpeningHoursAdmin(admin.ModelAdmin):
    """When each store is open, per weekday; try-ons are booked only inside these hours. A store without
    any row uses INVENTORY_DEFAULT_OPENING_HOURS every day; a weekday without a row is closed."""

    list_display = ["store", "weekday", "opens", "closes"]
    list_filter = ["store", "weekday"]
    list_select_related = ["store"]
    ordering = ["store__code", "weekday"]


@admin.register(TryOnSettings)
class TryOnSettingsAdmin(admin.ModelAdmin):
    list_display = ["store", "slot_minutes", "capacity"]
    list_select_related = ["store"]
    ordering = ["store__code"]
