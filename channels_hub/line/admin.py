"""Admin of the LINE channel: accounts (secrets write-only, shown as their last four characters at
most) and read-only views of LINE users, webhook events (postbacks included) and link requests."""

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm.admin import ReadOnlyAdmin

from .crypto import SecretUnreadable, hint
from .forms import LineAccountForm
from .models import LineAccount, LineFollower, LineLinkRequest, LineWebhookEvent
from .services import configure_line_account


@admin.register(LineAccount)
class LineAccountAdmin(admin.ModelAdmin):
    form = LineAccountForm
    list_display = ["name", "label", "active", "webhook_url", "api_base", "secrets"]
    fields = ["name", "label", "channel_secret", "access_token", "api_base", "link_keyword", "active",
              "webhook_url", "secrets"]  # fmt: skip
    readonly_fields = ["webhook_url", "secrets"]
    actions = None  # nothing to bulk-export or bulk-delete

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "name"] if obj else self.readonly_fields

    @admin.display(description=_("webhook URL (give it to LINE)"))
    def webhook_url(self, obj):
        if not obj or not obj.pk:
            return "—"
        return settings.TSUNAGU_BASE_URL.rstrip("/") + reverse("line:webhook", args=[obj.name])

    @admin.display(description=_("stored secrets"))
    def secrets(self, obj):
        if not obj or not obj.pk:
            return "—"
        try:
            return _("secret %(secret)s, token %(token)s") % {
                "secret": hint(obj.channel_secret),
                "token": hint(obj.access_token),
            }
        except SecretUnreadable:
            return _("unreadable: enter them again")

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            account, _created = configure_line_account(
                name=obj.name, label=data.get("label", ""), api_base=data.get("api_base", ""),
                link_keyword=data.get("link_keyword"), active=data.get("active"),
                channel_secret=data.get("channel_secret") or None, access_token=data.get("access_token") or None,
            )  # fmt: skip
        except ValidationError as exc:  # the form checked the same; a race is all that is left
            raise ValueError(exc.messages) from exc
        obj.pk = account.pk


@admin.register(LineFollower)
class LineFollowerAdmin(ReadOnlyAdmin):
    list_display = ["line_user_id", "account", "follows", "follow_changed_at", "opted_out_at"]
    list_filter = ["account", "follows"]
    search_fields = ["line_user_id"]
    list_select_related = ["account"]
    show_full_result_count = False


@admin.register(LineWebhookEvent)
class LineWebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["webhook_event_id", "account", "kind", "state", "occurred_at", "redelivery"]
    list_filter = ["kind", "state", "account"]
    search_fields = ["webhook_event_id", "line_user_id"]
    fields = ["account", "webhook_event_id", "kind", "line_user_id", "occurred_at", "redelivery", "state", "error",
              "message", "payload", "received_at", "processed_at"]  # fmt: skip
    list_select_related = ["account"]
    show_full_result_count = False


@admin.register(LineLinkRequest)
class LineLinkRequestAdmin(ReadOnlyAdmin):
    list_display = ["pk", "account", "line_user_id", "status", "customer", "created_at", "completed_at"]
    list_filter = ["status", "account"]
    search_fields = ["line_user_id"]
    fields = ["account", "line_user_id", "status", "error", "customer", "failed_attempts", "created_at", "expires_at",
              "completed_at"]  # fmt: skip
    list_select_related = ["account", "customer"]
