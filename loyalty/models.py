"""Points: one account per customer, an append-only ledger, lots with an expiry date, earn rules and tiers.

The ledger rules (ARCHITECTURE.md, Data rules): every change of a balance is a PointTransaction row,
written by a service in the same transaction that updates the cached PointAccount.balance under the
account's row lock. Earned points live in PointLot rows until they are redeemed or expire; which
lots a transaction consumed or restored is recorded in PointLotUse, so a reversal gives back the
very lots a redemption used. `manage.py check_points` proves balance = ledger sum = remaining lots.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from crm.ids import new_public_id
from crm.models import SalesChannel


def new_transaction_id() -> str:
    return new_public_id("ptx")


class Tier(models.Model):
    """A membership level reached by spend (paid in money) over the last 12 months."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=50)
    min_spend = models.PositiveIntegerField(_("minimum 12-month spend (yen)"), unique=True)
    multiplier = models.DecimalField(
        _("points multiplier"), max_digits=4, decimal_places=2, default=1,
        help_text=_("Earned points are multiplied by this (1.00 = base rate)."),
    )  # fmt: skip

    class Meta:
        ordering = ["min_spend"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        constraints = [models.CheckConstraint(condition=Q(multiplier__gt=0), name="loyalty_tier_multiplier_positive")]

    def __str__(self):
        return self.name


class PointAccount(models.Model):
    customer = models.OneToOneField(
        "crm.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="point_account"
    )
    balance = models.IntegerField(_("balance"), default=0)
    tier = models.ForeignKey(Tier, verbose_name=_("tier"), null=True, blank=True, on_delete=models.PROTECT)
    lifetime_spend = models.BigIntegerField(_("lifetime spend (yen)"), default=0)
    tier_changed_at = models.DateTimeField(_("tier changed at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("point account")
        verbose_name_plural = _("point accounts")
        permissions = [("view_finance", _("Can see the points liability and finance figures"))]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="loyalty_balance_non_negative"),
            models.CheckConstraint(condition=Q(lifetime_spend__gte=0), name="loyalty_lifetime_spend_non_negative"),
        ]

    def __str__(self):
        return f"{self.customer_id}: {self.balance}"


class PointTransaction(models.Model):
    """One line of the ledger. Never updated or deleted (a merge re-points `account` only)."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Adjusted")
        REVERSE = "reverse", _("Reversed")

    public_id = models.CharField(max_length=32, default=new_transaction_id, editable=False)  # unique: Meta
    # Foreign keys are indexed by the partial and composite indexes in Meta, not one index each: the
    # nightly expiry inserts a row per account, and every index is paid for on each of them.
    account = models.ForeignKey(PointAccount, on_delete=models.PROTECT, related_name="transactions", db_index=False)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    points = models.IntegerField(_("points"), help_text=_("Positive adds to the balance, negative takes away."))
    channel = models.CharField(_("channel"), max_length=16, choices=SalesChannel.choices, blank=True)
    store = models.ForeignKey(
        "crm.Store", verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )  # fmt: skip
    order = models.ForeignKey(
        "crm.Order", verbose_name=_("order"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )  # fmt: skip
    order_return = models.ForeignKey(
        "crm.OrderReturn", verbose_name=_("return"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", db_index=False,
    )  # fmt: skip
    reverses = models.ForeignKey(
        "self", verbose_name=_("reverses"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="reversals", db_index=False,
    )  # fmt: skip
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    # What makes a retry the same write: "order:<ord id>:earn", "redeem:<account pk>:<reference>", ...
    # NULL (not "") when there is none, e.g. expiry rows: the partial unique index leaves them out
    idempotency_key = models.CharField(max_length=160, null=True, blank=True, editable=False)  # noqa: DJ001
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )  # fmt: skip
    # An integration's adjustments are recorded against its API key (actor is a person).
    api_key = models.ForeignKey(
        "crm.ApiKey", verbose_name=_("API key"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", db_index=False,
    )  # fmt: skip
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approved by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", db_index=False,
    )  # fmt: skip
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    shortfall = models.PositiveIntegerField(
        _("shortfall"), default=0,
        help_text=_("Points a reversal could not take back because the customer had already spent them."),
    )  # fmt: skip
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("point transaction")
        verbose_name_plural = _("point transactions")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="earn", points__gt=0)
                    | Q(kind__in=["redeem", "expire"], points__lt=0)
                    | (Q(kind="adjust") & ~Q(points=0))
                    # a reversal that could take nothing back still records its shortfall
                    | (Q(kind="reverse") & (~Q(points=0) | Q(shortfall__gt=0)))
                ),
                name="loyalty_transaction_sign_by_kind",
            ),
            models.CheckConstraint(condition=~Q(kind="adjust") | ~Q(reason=""), name="loyalty_adjust_has_reason"),
            models.UniqueConstraint(
                fields=["idempotency_key"], condition=Q(idempotency_key__isnull=False), name="loyalty_txn_idempotency"
            ),
            # a constraint rather than unique=True: no second (LIKE) index on PostgreSQL, which only
            # costs the nightly expiry time
            models.UniqueConstraint(fields=["public_id"], name="loyalty_txn_public_id"),
        ]
        indexes = [
            models.Index(fields=["account", "-public_id"], name="loyalty_txn_account_newest"),
            models.Index(fields=["order"], condition=Q(order__isnull=False), name="loyalty_txn_order"),
            models.Index(fields=["reverses"], condition=Q(reverses__isnull=False), name="loyalty_txn_reverses"),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="loyalty_txn_actor"),
            models.Index(fields=["api_key"], condition=Q(api_key__isnull=False), name="loyalty_txn_api_key"),
            models.Index(
                fields=["account", "kind", "reference"], condition=~Q(reference=""), name="loyalty_txn_reference"
            ),
        ]

    def __str__(self):
        return self.public_id


def new_adjustment_id() -> str:
    return new_public_id("adj")


class PointAdjustment(models.Model):
    """An adjustment above the approval limit (or beyond the daily award cap of its person or key),
    waiting until a second person, an admin who did not ask for it, approves it. Approved, it
    becomes one ledger row (`transaction`)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for approval")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    public_id = models.CharField(max_length=32, default=new_adjustment_id, unique=True, editable=False)
    customer = models.ForeignKey("crm.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+")
    points = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=255)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=SalesChannel.choices, blank=True)
    store = models.ForeignKey(
        "crm.Store", verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    requested_by_key = models.ForeignKey(
        "crm.ApiKey", verbose_name=_("requested by API key"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    transaction = models.OneToOneField(
        PointTransaction, verbose_name=_("transaction"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="approval",
    )  # fmt: skip
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)

    class Meta:
        verbose_name = _("point adjustment awaiting approval")
        verbose_name_plural = _("point adjustments awaiting approval")
        permissions = [("approve_pointadjustment", _("Can approve point adjustments"))]
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="loyalty_adjustment_not_zero"),
            models.CheckConstraint(condition=~Q(reason=""), name="loyalty_adjustment_has_reason"),
            models.CheckConstraint(
                condition=Q(requested_by__isnull=False) | Q(requested_by_key__isnull=False),
                name="loyalty_adjustment_has_requester",
            ),
            # the second person: nobody decides on their own request
            models.CheckConstraint(condition=~Q(decided_by=F("requested_by")), name="loyalty_adjustment_second_person"),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_by__isnull=False, decided_at__isnull=False),
                name="loyalty_adjustment_decision_recorded",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(transaction__isnull=False), name="loyalty_adjustment_applied"
            ),
            models.UniqueConstraint(
                fields=["customer", "reference"], condition=~Q(reference=""), name="loyalty_adjustment_reference"
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="loyalty_adjustment_pending"),
        ]

    def __str__(self):
        return self.public_id


class PointLot(models.Model):
    """Points earned together, spendable until `expires_at`; consumed oldest expiry first."""

    account = models.ForeignKey(PointAccount, on_delete=models.PROTECT, related_name="lots")
    earned_by = models.ForeignKey(PointTransaction, on_delete=models.PROTECT, related_name="lots")
    points = models.PositiveIntegerField(_("points"))
    remaining = models.PositiveIntegerField(_("remaining"))
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("point lot")
        verbose_name_plural = _("point lots")
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gt=0) & Q(remaining__gte=0) & Q(remaining__lte=F("points")),
                name="loyalty_lot_remaining_within_points",
            ),
        ]
        indexes = [
            models.Index(
                fields=["account", "expires_at"], condition=Q(remaining__gt=0), name="loyalty_lot_open_by_account"
            ),
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0), name="loyalty_lot_open_by_expiry"),
        ]

    def __str__(self):
        return f"{self.remaining}/{self.points} until {self.expires_at:%Y-%m-%d}"


class PointLotUse(models.Model):
    """Which lots a transaction took points from (negative) or gave points back to (positive)."""

    # indexed by the unique constraint (transaction first) and the lot index below
    transaction = models.ForeignKey(PointTransaction, on_delete=models.PROTECT, related_name="lot_uses", db_index=False)
    lot = models.ForeignKey(PointLot, on_delete=models.PROTECT, related_name="uses", db_index=False)
    points = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["transaction", "lot"], name="loyalty_lotuse_unique"),
            models.CheckConstraint(condition=~Q(points=0), name="loyalty_lotuse_not_zero"),
        ]
        indexes = [models.Index(fields=["lot"], name="loyalty_lotuse_lot")]

    def __str__(self):
        return f"{self.transaction_id} {self.lot_id} {self.points:+d}"


class EarnRule(models.Model):
    """The base rate of one sales channel: `points_per_unit` points for every `yen_per_unit` yen paid
    in money, rounded down over the whole order."""

    channel = models.CharField(_("channel"), max_length=16, choices=SalesChannel.choices, unique=True)
    yen_per_unit = models.PositiveIntegerField(_("yen per unit"), default=100)
    points_per_unit = models.PositiveIntegerField(_("points per unit"), default=1)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["channel"]
        verbose_name = _("earn rule")
        verbose_name_plural = _("earn rules")
        constraints = [models.CheckConstraint(condition=Q(yen_per_unit__gt=0), name="loyalty_rule_yen_positive")]

    def __str__(self):
        return f"{self.get_channel_display()}: {self.points_per_unit} / ¥{self.yen_per_unit}"


class PointCampaign(models.Model):
    """A time-boxed multiplier ("double points week"), optionally for one category, store or channel.
    Where several apply to a line, the highest wins; it multiplies with the tier's multiplier."""

    name = models.CharField(_("name"), max_length=100)
    multiplier = models.DecimalField(_("multiplier"), max_digits=4, decimal_places=2)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    category = models.CharField(_("product category"), max_length=64, blank=True, help_text=_("Empty: all."))
    store = models.ForeignKey(
        "crm.Store", verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text=_("Empty: every store and channel location."),
    )  # fmt: skip
    channel = models.CharField(
        _("channel"), max_length=16, choices=SalesChannel.choices, blank=True, help_text=_("Empty: all.")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("points campaign")
        verbose_name_plural = _("points campaigns")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="loyalty_campaign_ends_after_start"),
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="loyalty_campaign_multiplier_positive"),
        ]

    def __str__(self):
        return self.name


class TierChange(models.Model):
    account = models.ForeignKey(PointAccount, on_delete=models.PROTECT, related_name="tier_changes")
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    spend = models.BigIntegerField(_("12-month spend (yen)"))
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")

    def __str__(self):
        return f"{self.account_id}: {self.from_tier_id} → {self.to_tier_id}"
