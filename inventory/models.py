"""Stock per product per location (stores and the EC warehouse), the movement ledger behind it,
reservations (pickup, hold, try-on), transfers, count discrepancies and stock-sync batches.

A StockLevel is a cached balance: it always equals the sum of its movements (`manage.py check_stock`).
Workflows live in services/; this module holds data and the invariants the database enforces.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from crm.ids import new_public_id


def new_reservation_id() -> str:
    return new_public_id("rsv")


def new_transfer_id() -> str:
    return new_public_id("trf")


def new_discrepancy_id() -> str:
    return new_public_id("dsc")


def new_sync_batch_id() -> str:
    return new_public_id("syn")


class StockLevel(models.Model):
    store = models.ForeignKey(
        "crm.Store", verbose_name=_("location"), on_delete=models.PROTECT, related_name="stock_levels"
    )
    product = models.ForeignKey(
        "crm.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="stock_levels"
    )
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(fields=["store", "product"], name="inventory_level_unique_store_product"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="inventory_level_on_hand_non_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="inventory_level_reserved_non_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="inventory_level_reserved_le_on_hand"),
        ]
        # Availability of one SKU across every location reads by product first.
        indexes = [models.Index(fields=["product", "store"], name="inventory_level_product")]

    def __str__(self):
        return f"{self.store_id}/{self.product_id}: {self.on_hand} ({self.reserved})"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(models.Model):
    """One append-only ledger row: what changed on hand and reserved at one location, and why."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        SALE = "sale", _("Sale")
        RETURN = "return", _("Return")
        TRANSFER_OUT = "transfer_out", _("Transfer out")
        TRANSFER_IN = "transfer_in", _("Transfer in")
        ADJUSTMENT = "adjustment", _("Adjustment")
        COUNT_CORRECTION = "count_correction", _("Count correction")
        RESERVE = "reserve", _("Reserve")
        RELEASE = "release", _("Release")

    store = models.ForeignKey("crm.Store", verbose_name=_("location"), on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("crm.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    on_hand_delta = models.IntegerField(_("on hand change"), default=0)
    reserved_delta = models.IntegerField(_("reserved change"), default=0)
    reference = models.CharField(_("reference"), max_length=64, blank=True, help_text=_("Order, reservation, ..."))
    # A retried write (the same order line, the same reservation step) never moves stock twice.
    idempotency_key = models.CharField(max_length=128, null=True, blank=True, unique=True, editable=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        constraints = [
            models.CheckConstraint(
                condition=~Q(on_hand_delta=0) | ~Q(reserved_delta=0), name="inventory_movement_changes_something"
            ),
        ]
        indexes = [models.Index(fields=["store", "product", "created_at"], name="inventory_movement_level")]

    def __str__(self):
        return f"{self.kind} {self.on_hand_delta:+d}/{self.reserved_delta:+d}"


class Reservation(models.Model):
    class Kind(models.TextChoices):
        PICKUP = "pickup", _("Click and collect")
        HOLD = "hold", _("Hold")
        TRY_ON = "try_on", _("Try-on")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FULFILLED = "fulfilled", _("Handed over")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    public_id = models.CharField(max_length=32, unique=True, default=new_reservation_id, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    customer = models.ForeignKey(
        "crm.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="reservations"
    )
    store = models.ForeignKey("crm.Store", verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("crm.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    pickup_code = models.CharField(_("pickup code"), max_length=8)
    slot_start = models.DateTimeField(_("try-on slot"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"))
    ready_mail_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="inventory_reservation_quantity_positive"),
            models.CheckConstraint(
                condition=~Q(kind="try_on") | Q(slot_start__isnull=False), name="inventory_reservation_try_on_slot"
            ),
            # Staff type the code at the counter: it must name one active reservation.
            models.UniqueConstraint(
                fields=["pickup_code"], condition=Q(status="active"), name="inventory_reservation_active_code"
            ),
        ]
        indexes = [
            models.Index(fields=["store", "status", "expires_at"], name="inventory_rsv_store_status"),
            models.Index(fields=["status", "expires_at"], name="inventory_rsv_status_expiry"),
            models.Index(fields=["customer", "-created_at"], name="inventory_rsv_customer"),
        ]

    def __str__(self):
        return self.public_id

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Discrepancy(models.Model):
    """Counts and reality disagree: a store sold more than the counts said were there, or a count came
    in below what is reserved. Staff look and resolve."""

    class Source(models.TextChoices):
        SALE = "sale", _("Sale beyond the counted stock")
        COUNT = "count", _("Count below reserved")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    public_id = models.CharField(max_length=32, unique=True, default=new_discrepancy_id, editable=False)
    store = models.ForeignKey("crm.Store", verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("crm.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    quantity = models.PositiveIntegerField(_("units unaccounted for"))
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    note = models.CharField(_("note"), max_length=255, blank=True)
    # The recount that resolved it: what the system said was on hand, and what staff counted.
    on_hand_before = models.IntegerField(_("on hand before the recount"), null=True, blank=True)
    counted = models.PositiveIntegerField(_("counted"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("count discrepancy")
        verbose_name_plural = _("count discrepancies")
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="inventory_discrepancy_positive")]
        indexes = [models.Index(fields=["store", "status", "-created_at"], name="inventory_discrepancy_store")]

    def __str__(self):
        return f"{self.store_id}/{self.product_id} {self.quantity}"


class Transfer(models.Model):
    """Stock moving between two locations: out of one (in transit), later into the other."""

    class Status(models.TextChoices):
        IN_TRANSIT = "in_transit", _("In transit")
        RECEIVED = "received", _("Received")

    public_id = models.CharField(max_length=32, unique=True, default=new_transfer_id, editable=False)
    from_store = models.ForeignKey(
        "crm.Store", verbose_name=_("from"), on_delete=models.PROTECT, related_name="transfers_out"
    )
    to_store = models.ForeignKey(
        "crm.Store", verbose_name=_("to"), on_delete=models.PROTECT, related_name="transfers_in"
    )
    product = models.ForeignKey("crm.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.IN_TRANSIT)
    note = models.CharField(_("note"), max_length=255, blank=True)
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shipped_at = models.DateTimeField(_("shipped at"), auto_now_add=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="inventory_transfer_quantity_positive"),
            models.CheckConstraint(condition=~Q(from_store=F("to_store")), name="inventory_transfer_two_locations"),
        ]

    def __str__(self):
        return self.public_id


class StockSyncBatch(models.Model):
    """One POS/WMS count upload. (store, key) is unique, so a resent batch is applied once."""

    public_id = models.CharField(max_length=32, unique=True, default=new_sync_batch_id, editable=False)
    store = models.ForeignKey("crm.Store", verbose_name=_("location"), on_delete=models.PROTECT, related_name="+")
    key = models.CharField(_("batch key"), max_length=255, blank=True, help_text=_("Empty: not deduplicated."))
    request_hash = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(_("rows"))
    applied = models.PositiveIntegerField(_("rows applied"))
    changed = models.PositiveIntegerField(_("levels changed"))
    errors = models.JSONField(_("row errors"), default=list, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stock sync batch")
        verbose_name_plural = _("stock sync batches")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "key"], condition=~Q(key=""), name="inventory_sync_unique_store_key"
            )
        ]

    def __str__(self):
        return self.public_id
