"""Admin: segments and campaigns are edited on the marketers' pages (services validate them); here
they are read-only records, like the frozen audience and the events. The suppression list can be
read and an address removed by an admin (e.g. a customer who asks to receive mail again)."""

from django.contrib import admin

from crm.admin import ReadOnlyAdmin

from .models import Campaign, CampaignRecipient, MailEvent, Segment, Suppression


@admin.register(Segment)
class SegmentAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "name", "created_by", "created_at"]
    search_fields = ["public_id", "name"]


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "name", "status", "segment", "audience_size", "started_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["public_id", "name"]
    list_select_related = ["segment"]


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "customer", "state", "sent_at", "opened_at", "clicked_at", "unsubscribed_at"]
    list_filter = ["state"]
    list_select_related = ["campaign", "customer"]
    search_fields = ["campaign__public_id", "customer__public_id"]
    show_full_result_count = False


@admin.register(MailEvent)
class MailEventAdmin(ReadOnlyAdmin):
    list_display = ["recipient", "kind", "url", "created_at"]
    list_filter = ["kind"]
    show_full_result_count = False


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["email", "reason", "campaign", "created_at"]
    list_filter = ["reason"]
    search_fields = ["email"]
    readonly_fields = ["email", "reason", "campaign", "created_at"]

    def has_add_permission(self, request):
        return False
