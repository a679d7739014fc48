"""Offers (what a coupon gives), coupons (the codes customers show at the till or type at checkout)
and their redemptions. Imported by campaigns.models; workflows live in services/coupons.py."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from crm.ids import new_public_id


def new_offer_id() -> str:
    return new_public_id("ofr")


class Offer(models.Model):
    class Kind(models.TextChoices):
        AMOUNT = "amount", _("Amount off (yen)")
        PERCENT = "percent", _("Percent off")

    public_id = models.CharField(max_length=32, unique=True, default=new_offer_id, editable=False)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    value = models.PositiveIntegerField(_("value"), help_text=_("Yen off, or percent off (1–100)."))
    min_spend = models.PositiveIntegerField(
        _("minimum spend (yen)"), default=0, help_text=_("Counted over the lines the offer applies to.")
    )
    categories = models.JSONField(
        _("categories"), default=list, blank=True, help_text=_("Product categories the offer applies to; empty: all.")
    )
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    per_customer_limit = models.PositiveIntegerField(
        _("uses per customer"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=1), name="campaigns_offer_value_positive"),
            models.CheckConstraint(
                condition=~Q(kind="percent") | Q(value__lte=100), name="campaigns_offer_percent_max_100"
            ),
            models.CheckConstraint(condition=Q(valid_until__gt=F("valid_from")), name="campaigns_offer_valid_range"),
            models.CheckConstraint(
                condition=Q(per_customer_limit__isnull=True) | Q(per_customer_limit__gte=1),
                name="campaigns_offer_per_customer_positive",
            ),
        ]

    def __str__(self):
        return self.name


class Coupon(models.Model):
    """One code. Single-use codes have max_uses 1; a multi-use code (printed in a flyer, say) has more.
    `uses` is the count of redemptions not given back, kept under the row lock and guarded here."""

    offer = models.ForeignKey(Offer, verbose_name=_("offer"), on_delete=models.PROTECT, related_name="coupons")
    code = models.CharField(_("code"), max_length=32, unique=True)
    customer = models.ForeignKey(
        "crm.Customer", verbose_name=_("customer"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="coupons", help_text=_("Empty: anyone with the code may use it."),
    )  # fmt: skip
    max_uses = models.PositiveIntegerField(_("uses allowed"), default=1)
    uses = models.PositiveIntegerField(_("used"), default=0)
    # Issued by a journey step: at most one coupon per enrollment and step (exactly once on a re-run).
    enrollment = models.ForeignKey(
        "campaigns.JourneyEnrollment", null=True, blank=True, on_delete=models.SET_NULL, related_name="coupons"
    )
    step = models.ForeignKey(
        "campaigns.JourneyStep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.CheckConstraint(condition=Q(max_uses__gte=1), name="campaigns_coupon_max_uses_positive"),
            models.CheckConstraint(condition=Q(uses__lte=F("max_uses")), name="campaigns_coupon_uses_within_max"),
            models.UniqueConstraint(
                fields=["enrollment", "step"], condition=Q(enrollment__isnull=False),
                name="campaigns_coupon_once_per_journey_step",
            ),
        ]  # fmt: skip

    def __str__(self):
        return self.code


class CouponRedemption(models.Model):
    """One use of a coupon: by an order (the order pipeline) or by a POS/EC reference. Given back
    (released) when the order is fully returned; the row stays, with released_at set."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="redemptions")
    customer = models.ForeignKey("crm.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey("crm.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=128)
    channel = models.CharField(max_length=16)
    store = models.ForeignKey("crm.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    discount = models.PositiveIntegerField()
    redeemed_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")
        constraints = [
            models.UniqueConstraint(fields=["coupon", "reference"], name="campaigns_redemption_unique_reference"),
        ]
        indexes = [
            models.Index(fields=["offer", "customer"], name="campaigns_redemption_offer_cus"),
            models.Index(fields=["order"], name="campaigns_redemption_order"),
        ]

    def __str__(self):
        return f"{self.coupon_id}:{self.reference}"
