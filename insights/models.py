"""Insights: summary tables computed from the other apps (never written by them), and the
recommendation tables built from co-purchases.

Daily facts are a cache of the base tables, rebuilt set-based by `refresh_insights_facts` (nightly,
trailing days; weekly, everything): one row per customer, day and channel they bought or wrote
through; one row per ticket with its outcome; points per day. The KPI queries read them for the days
they cover and the base tables for the days after (today), through the same SELECTs.
Foreign keys here carry no database constraint: these rows are derived and rebuilt, and must never
hold up a merge, an erasure or a product change in the app that owns the row.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class FactsState(models.Model):
    """One row: how far the daily facts reach and when they were computed (the dashboard shows it).
    Refreshes lock it, so two never interleave."""

    key = models.CharField(max_length=16, unique=True, default="facts")
    built_through = models.DateField(_("facts up to"), null=True, blank=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)
    full_refreshed_at = models.DateTimeField(_("last full rebuild"), null=True, blank=True)
    seconds = models.FloatField(default=0)
    rows = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("facts state")
        verbose_name_plural = _("facts state")
        permissions = [("view_kpis", _("Can see the KPI dashboard and reports"))]

    def __str__(self):
        return f"{self.key} → {self.built_through}"


class CustomerChannelDay(models.Model):
    """A customer bought (kind=order) or wrote (kind=contact) through a channel on a day (Asia/Tokyo)."""

    class Kind(models.TextChoices):
        ORDER = "order", _("Order")
        CONTACT = "contact", _("Inbound message")

    day = models.DateField()
    customer = models.ForeignKey(
        "crm.Customer", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    channel = models.CharField(max_length=16)
    events = models.PositiveIntegerField()  # orders, or inbound messages
    spend = models.BigIntegerField(default=0)  # yen paid in money, less returns (orders only)
    home_store = models.ForeignKey(
        "crm.Store", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    prefecture = models.CharField(max_length=8, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "customer", "kind", "channel"], name="insights_ccd_unique"),
        ]

    def __str__(self):
        return f"{self.day} {self.customer_id} {self.kind}:{self.channel}"


class TicketFact(models.Model):
    """One ticket (not merged away) as it stood when the facts were refreshed."""

    ticket = models.OneToOneField(
        "channels_hub.Ticket", primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    day = models.DateField(db_index=True)  # opened (Asia/Tokyo)
    channel = models.CharField(max_length=16)
    category = models.CharField(max_length=64, blank=True)
    customer = models.ForeignKey(
        "crm.Customer", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    home_store = models.ForeignKey(
        "crm.Store", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    prefecture = models.CharField(max_length=8, blank=True)
    resolved = models.BooleanField()
    replies = models.PositiveIntegerField()
    first_response_seconds = models.BigIntegerField(null=True)
    csat = models.PositiveSmallIntegerField(null=True)

    def __str__(self):
        return f"{self.day} ticket {self.ticket_id}"


class PointsDay(models.Model):
    """Points earned, redeemed and expired per day, channel and customer group."""

    day = models.DateField(db_index=True)
    channel = models.CharField(max_length=16, blank=True)
    home_store = models.ForeignKey(
        "crm.Store", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    prefecture = models.CharField(max_length=8, blank=True)
    issued = models.BigIntegerField()
    redeemed = models.BigIntegerField()
    expired = models.BigIntegerField()

    def __str__(self):
        return f"{self.day} {self.channel}: +{self.issued} −{self.redeemed} −{self.expired}"


class ProductAffinity(models.Model):
    """Customers who bought `product` also bought `other` (in any channel, at any time): a cosine
    score over customers, heavy buyers damped. The strongest neighbours of each product are kept."""

    product = models.ForeignKey(
        "crm.Product", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    other = models.ForeignKey(
        "crm.Product", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    score = models.FloatField()
    customers = models.PositiveIntegerField()  # customers who bought both

    class Meta:
        verbose_name = _("bought-together score")
        verbose_name_plural = _("bought-together scores")
        constraints = [models.UniqueConstraint(fields=["product", "other"], name="insights_affinity_unique")]
        indexes = [models.Index(fields=["product", "-score"], name="insights_affinity_best")]

    def __str__(self):
        return f"{self.product_id} → {self.other_id}: {self.score:.3f}"


class PopularProduct(models.Model):
    """Best sellers by customers living in a prefecture ("" = everywhere) over the recent days."""

    prefecture = models.CharField(max_length=8, blank=True)
    product = models.ForeignKey(
        "crm.Product", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    buyers = models.PositiveIntegerField()
    rank = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefecture", "product"], name="insights_popular_unique")]
        indexes = [models.Index(fields=["prefecture", "rank"], name="insights_popular_rank")]

    def __str__(self):
        return f"{self.prefecture or '*'} #{self.rank}: {self.product_id}"


class RecommendationBuild(models.Model):
    """One run of build_recommendations: when, how much it read, how long it took."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    customers = models.PositiveIntegerField(default=0)
    purchases = models.PositiveBigIntegerField(default=0)  # distinct (customer, product) pairs read
    pairs = models.PositiveIntegerField(default=0)  # affinity rows written
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("recommendation build")
        verbose_name_plural = _("recommendation builds")

    def __str__(self):
        return f"{self.started_at:%Y-%m-%d %H:%M}"
