"""Segments (saved rule trees), email campaigns, their frozen audience (one row per customer), the
suppression list and what recipients did with the mail (opens, clicks, unsubscribes, bounces).

Workflows live in services.py; this module holds data and the invariants the database enforces.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.ids import new_public_id


def new_segment_id() -> str:
    return new_public_id("seg")


def new_campaign_id() -> str:
    return new_public_id("cmp")


class Segment(models.Model):
    public_id = models.CharField(max_length=32, unique=True, default=new_segment_id, editable=False)
    name = models.CharField(_("name"), max_length=200)
    rules = models.JSONField(_("rules"), help_text=_("A rule tree: all/any/not groups of conditions."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self):
        return self.name


class Campaign(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", pgettext_lazy("channel", "Email")
        LINE = "line", "LINE"
        LINE_THEN_EMAIL = "line_email", _("LINE, falling back to email")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", pgettext_lazy("campaign", "Cancelled")

    public_id = models.CharField(max_length=32, unique=True, default=new_campaign_id, editable=False)
    name = models.CharField(_("name"), max_length=200)
    segment = models.ForeignKey(Segment, verbose_name=_("segment"), on_delete=models.PROTECT, related_name="campaigns")
    subject = models.CharField(_("subject"), max_length=255)
    from_email = models.CharField(
        pgettext_lazy("mail sender", "from"),
        max_length=254,
        help_text=_("Sender identity, e.g. Shop <news@shop.jp>"),
    )
    body_text = models.TextField(_("text body"))
    body_html = models.TextField(_("HTML body"), blank=True)
    featured_skus = models.JSONField(_("featured products (SKUs)"), default=list, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    line_account = models.ForeignKey(
        "channels_hub.LineAccount", verbose_name=_("LINE account"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    line_text = models.TextField(
        _("LINE message"),
        blank=True,
        help_text=_("What LINE recipients get (at most 5,000 characters). Empty: the text body."),
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("hold-out %"), default=0, help_text=_("Share of the segment not mailed, to measure lift.")
    )
    throttle = models.PositiveIntegerField(
        _("messages per second"), null=True, blank=True, help_text=_("Empty: the site default.")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    started_at = models.DateTimeField(_("sending started at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sending finished at"), null=True, blank=True)
    audience_size = models.PositiveIntegerField(_("audience"), null=True, blank=True)
    # The last recipient (pk) whose batch has been queued: the rolling window of queued batches
    # (services.sending.queue_next_batches) goes on from here.
    queued_through = models.BigIntegerField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        permissions = [("send_campaign", _("Can send, pause and cancel campaigns"))]
        constraints = [
            models.CheckConstraint(condition=Q(holdout_percent__lte=90), name="campaigns_holdout_max_90"),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(scheduled_at__isnull=False), name="campaigns_scheduled_has_time"
            ),
            models.CheckConstraint(
                condition=Q(channel="email") | Q(line_account__isnull=False), name="campaigns_line_has_account"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.SCHEDULED)


class CampaignRecipient(models.Model):
    """One customer of a campaign's audience, frozen when the campaign is sent. The state moves
    pending → sent/failed exactly once, under the row lock of an UPDATE … WHERE state='pending', so a
    retried task or a second worker never mails the same customer twice."""

    class State(models.TextChoices):
        PENDING = "pending", pgettext_lazy("campaign delivery", "Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SUPPRESSED = "suppressed", _("Suppressed")
        HOLDOUT = "holdout", _("Hold-out")

    class Channel(models.TextChoices):
        EMAIL = "email", pgettext_lazy("channel", "Email")
        LINE = "line", "LINE"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey("crm.Customer", on_delete=models.PROTECT, related_name="campaign_mails")
    # How this customer is reached, decided when the audience is frozen (LINE campaigns may fall back to email).
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    email = models.EmailField(max_length=254, blank=True)
    line_user_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    suppressed_reason = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    message_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True, help_text=_("As rendered at send time."))
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaigns_recipient_unique"),
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False), name="campaigns_sent_has_time"
            ),
            models.CheckConstraint(
                condition=Q(state="suppressed") | ~Q(channel="line") | ~Q(line_user_id=""),
                name="campaigns_line_recipient_has_user",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "state"], name="campaigns_recipient_state"),
            models.Index(fields=["message_id"], name="campaigns_recipient_msgid"),
            # A LINE user who blocks the account: their latest LINE campaign message counts the opt-out.
            models.Index(
                fields=["line_user_id", "-sent_at"], condition=Q(channel="line"), name="campaigns_recipient_line"
            ),
        ]

    def __str__(self):
        return f"{self.campaign_id}:{self.customer_id} {self.state}"


class Suppression(models.Model):
    """Addresses never mailed again: unsubscribed, hard-bounced, or that complained."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        HARD_BOUNCE = "hard_bounce", _("Hard bounce")
        COMPLAINT = "complaint", _("Complaint")

    email = models.EmailField(_("email"), max_length=254, unique=True)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppression list")

    def __str__(self):
        return f"{self.email} ({self.reason})"


class MailEvent(models.Model):
    """What happened to one mail after it left: append-only."""

    class Kind(models.TextChoices):
        OPEN = "open", _("Opened")
        CLICK = "click", _("Clicked")
        UNSUBSCRIBE = "unsubscribe", _("Unsubscribed")
        BOUNCE = "bounce", _("Bounced")
        COMPLAINT = "complaint", _("Complaint")

    recipient = models.ForeignKey(CampaignRecipient, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.URLField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("mail event")
        verbose_name_plural = _("mail events")
        indexes = [models.Index(fields=["recipient", "kind"], name="campaigns_event_recipient")]

    def __str__(self):
        return f"{self.recipient_id} {self.kind}"


class PurchaseSummary(models.Model):
    """What each customer bought, where, and when last: one row per customer, product and sales
    channel, kept by campaigns from crm's `order_recorded` and `customers_merged` signals (and rebuilt
    from the order lines by `manage.py rebuild_purchase_summary` after bulk loads, which send none).

    It answers the `purchased` segment field without probing orders, lines and products per customer.
    Keyed by product rather than by its category and brand, so that a product the catalogue moves to
    another category answers exactly as the order lines do. "Purchased" means bought, whether or not
    returned later, as the order-line query has always counted it.

    Derived data: crm's orders hold the integrity, so the foreign keys have no database constraint
    (no deferred check per row when millions are rebuilt)."""

    pk = models.CompositePrimaryKey("customer", "product", "channel")
    customer = models.ForeignKey(
        "crm.Customer", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    product = models.ForeignKey(
        "crm.Product", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    channel = models.CharField(max_length=16)
    last_purchased_at = models.DateTimeField()

    class Meta:
        verbose_name = _("purchase summary")
        verbose_name_plural = _("purchase summaries")
        indexes = [
            # "bought these products since …": one range per product, customers read from the index.
            models.Index(
                fields=["product", "last_purchased_at", "customer", "channel"], name="campaigns_purchase_recent"
            ),
        ]

    def __str__(self):
        return f"{self.customer_id}:{self.product_id} {self.channel}"


from .models_coupons import Coupon, CouponRedemption, Offer  # noqa: E402
from .models_journeys import Journey, JourneyEnrollment, JourneyMessage, JourneyStep, MailPreference  # noqa: E402

__all__ = [
    "Campaign", "CampaignRecipient", "Coupon", "CouponRedemption", "Journey", "JourneyEnrollment", "JourneyMessage",
    "JourneyStep", "MailEvent", "MailPreference", "Offer", "PurchaseSummary", "Segment", "Suppression",
]  # fmt: skip
