"""The access log (who saw whom) and the record of each erasure. Imported by crm.models, so these are
crm's models (app label `crm`)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AccessLogEntry(models.Model):
    """One read of a person's data: append-only (no service updates or deletes a row, the admin may
    not; only the retention purge removes rows older than ACCESS_LOG_RETENTION_DAYS)."""

    class Kind(models.TextChoices):
        CUSTOMER_PAGE = "customer_page", _("Customer page (360)")
        ADMIN_PAGE = "admin_page", _("Customer in the admin")
        TICKET = "ticket", _("Ticket showing the customer")
        CAMPAIGN_PREVIEW = "campaign_preview", _("Campaign preview as the customer")
        API_READ = "api_read", _("API read of one customer")
        API_SEARCH = "api_search", _("API search result")
        EXPORT = "export", _("Disclosure export")
        ERASURE = "erasure", _("Erasure")

    at = models.DateTimeField(_("at"), default=timezone.now)
    customer = models.ForeignKey(
        "crm.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    what = models.CharField(_("what"), max_length=255, help_text=_("The page, endpoint or command."))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff user"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+", db_index=False,
    )  # fmt: skip
    api_key = models.ForeignKey(
        "crm.ApiKey", verbose_name=_("API key"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )  # fmt: skip
    actor = models.CharField(
        _("by"), max_length=150, help_text=_("The staff email, the API key's name, or the command, as it was then.")
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        indexes = [
            models.Index(fields=["customer", "-at"], name="crm_access_customer_time"),
            models.Index(fields=["user", "-at"], name="crm_access_user_time"),
            models.Index(fields=["at"], name="crm_access_time"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.kind}"


class CustomerErasure(models.Model):
    """That a person's data was erased: when, by whom, why, and how many rows each app anonymised."""

    customer = models.OneToOneField(
        "crm.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="erasure"
    )
    reason = models.CharField(_("reason"), max_length=255)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    actor_label = models.CharField(_("by"), max_length=150)
    counts = models.JSONField(_("rows anonymised"), default=dict)
    created_at = models.DateTimeField(_("erased at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer erasure")
        verbose_name_plural = _("customer erasures")

    def __str__(self):
        return f"{self.customer_id} {self.created_at:%Y-%m-%d}"
