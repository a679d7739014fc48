"""Admin for the hub's configuration (teams, routing rules, SLA policies, canned replies, outbound
endpoints) and a read-only view of tickets, messages and leads: those change through services."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from crm.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import (
    CannedReply,
    ChannelEndpoint,
    CsatResponse,
    Lead,
    Message,
    RoutingRule,
    SlaPolicy,
    Team,
    TeamMembership,
    Ticket,
)


class MembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 1
    autocomplete_fields = ["user"]
    readonly_fields = ["last_assigned_at"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["position", "name", "active", "channel", "keywords", "tier", "category", "set_team",
                    "set_priority", "set_assignee", "round_robin"]  # fmt: skip
    list_display_links = ["name"]
    list_editable = ["position", "active"]
    list_filter = ["active", "channel"]
    autocomplete_fields = ["set_assignee", "set_team"]
    fieldsets = [
        (_("When"), {"fields": ["name", "position", "active", "channel", "keywords", "tier", "category"]}),
        (
            _("Then"),
            {"fields": ["set_team", "set_priority", "set_category", "set_tags", "set_assignee", "round_robin"]},
        ),
    ]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["priority", "first_response_minutes", "resolution_minutes", "business_hours_only",
                    "business_start", "business_end", "business_days"]  # fmt: skip


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "active"]
    list_filter = ["active", "team"]
    search_fields = ["title", "body"]


@admin.register(ChannelEndpoint)
class ChannelEndpointAdmin(admin.ModelAdmin):
    list_display = ["channel", "url", "active"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        from django import forms

        form.base_fields["secret"].widget = forms.PasswordInput(render_value=True)
        return form


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["public_id", "sent_at", "channel", "direction", "author", "author_user", "body", "delivery_status"]
    readonly_fields = fields
    ordering = ["sent_at"]


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "subject", "status", "priority", "first_channel", "team", "assignee",
                    "last_message_at", "sla_breached_at", "csat_score"]  # fmt: skip
    list_filter = ["status", "priority", "first_channel", "team"]
    search_fields = ["public_id", "subject"]
    list_select_related = ["team", "assignee"]
    inlines = [MessageInline]
    show_full_result_count = False


@admin.register(Lead)
class LeadAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "name", "channel", "created_at", "customer"]
    search_fields = ["public_id", "email", "phone", "external_id"]
    list_select_related = ["customer"]


@admin.register(CsatResponse)
class CsatResponseAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "score", "created_at"]
    list_filter = ["score"]
    list_select_related = ["ticket"]


from .line import admin as line_admin  # noqa: E402, F401  LINE accounts, users, events and links
