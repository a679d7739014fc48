"""The shared core: staff users, stores, products (SKU master), customers, channel identities, orders.

Workflows live in services.py; this module holds data and the invariants the database enforces.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .ids import new_customer_id, new_member_number, new_order_id, new_return_id
from .prefectures import PREFECTURE_CHOICES


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("Staff users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A staff member. Logs in by email; the role is a Group (store_staff, agent, marketer, admin)."""

    username = None
    email = models.EmailField(_("email address"), unique=True)
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="ja")
    store = models.ForeignKey(
        "crm.Store",
        verbose_name=_("store"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text=_("The store a store-staff member works in."),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []
    objects = UserManager()

    class Meta:
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")

    def __str__(self):
        return self.display_name or self.email


class Store(models.Model):
    class Kind(models.TextChoices):
        STORE = "store", _("Store")
        WAREHOUSE = "warehouse", _("EC warehouse")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.STORE)
    prefecture = models.CharField(_("prefecture"), max_length=8, choices=PREFECTURE_CHOICES)
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")

    def __str__(self):
        return f"{self.name} ({self.code})"


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=64, blank=True, db_index=True)
    brand = models.CharField(_("brand"), max_length=64, blank=True, db_index=True)
    price = models.PositiveIntegerField(_("price (yen)"))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self):
        return f"{self.sku} {self.name}"


class Channel(models.TextChoices):
    """Where a customer has an account or contacts the retailer."""

    STORE_CARD = "store_card", _("Store card")
    EC = "ec", _("EC site")
    APP = "app", _("App")
    LINE = "line", "LINE"
    X = "x", "X"
    INSTAGRAM = "instagram", "Instagram"
    FACEBOOK = "facebook", "Facebook"
    PHONE = "phone", _("Phone")
    EMAIL = "email", pgettext_lazy("channel", "Email")
    CHAT = "chat", _("Chat")
    WEB_FORM = "web_form", _("Web form")


class ConsentSource(models.TextChoices):
    STORE = "store", _("Store")
    EC = "ec", _("EC site")
    APP = "app", _("App")
    STAFF = "staff", _("Staff")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe link")


class Customer(models.Model):
    public_id = models.CharField(max_length=32, unique=True, default=new_customer_id, editable=False)
    member_number = models.CharField(_("member number"), max_length=20, unique=True, default=new_member_number)
    family_name = models.CharField(_("family name"), max_length=50, blank=True)
    given_name = models.CharField(_("given name"), max_length=50, blank=True)
    family_name_kana = models.CharField(_("family name (kana)"), max_length=50, blank=True)
    given_name_kana = models.CharField(_("given name (kana)"), max_length=50, blank=True)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164"))
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=8, blank=True)
    prefecture = models.CharField(_("prefecture"), max_length=8, choices=PREFECTURE_CHOICES, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    home_store = models.ForeignKey(
        Store, verbose_name=_("home store"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    email_opt_in = models.BooleanField(_("email opt-in"), default=False)
    email_opt_in_at = models.DateTimeField(_("email consent changed at"), null=True, blank=True)
    email_opt_in_source = models.CharField(
        _("email consent source"), max_length=16, choices=ConsentSource.choices, blank=True
    )
    sms_opt_in = models.BooleanField(_("SMS opt-in"), default=False)
    sms_opt_in_at = models.DateTimeField(_("SMS consent changed at"), null=True, blank=True)
    sms_opt_in_source = models.CharField(
        _("SMS consent source"), max_length=16, choices=ConsentSource.choices, blank=True
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_customers",
    )
    # Denormalised search keys, kept by the services (see normalize.py): name and kana without
    # spaces, so that prefix search is one index range scan.
    search_name = models.CharField(max_length=100, blank=True, editable=False)
    search_kana = models.CharField(max_length=100, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Set by erase_customer (crm.privacy): the personal data is gone, the orders and ledgers stay.
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        permissions = [
            ("merge_customer", _("Can merge customers")),
            ("export_customer", _("Can export customers")),
            ("import_customer", _("Can import customers")),
            ("view_customer_contact", _("Can see full phone and email in search results")),
            ("erase_customer", _("Can erase a customer's personal data")),
        ]
        indexes = [
            models.Index(fields=["email"], name="crm_customer_email", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["phone"], name="crm_customer_phone"),
            models.Index(fields=["search_kana"], name="crm_customer_kana", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["given_name_kana"], name="crm_customer_gkana", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["search_name"], name="crm_customer_name", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["merged_into"], name="crm_customer_merged_into"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(merged_into=F("pk")), name="crm_customer_not_merged_into_self"),
        ]

    def __str__(self):
        name = f"{self.family_name} {self.given_name}".strip()
        return name or self.member_number

    @property
    def full_name(self) -> str:
        return f"{self.family_name} {self.given_name}".strip()

    @property
    def full_name_kana(self) -> str:
        return f"{self.family_name_kana} {self.given_name_kana}".strip()

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class ChannelIdentity(models.Model):
    """A customer's account on one channel (EC login, app user, LINE user, store card...)."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="identities")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    external_id = models.CharField(_("external id"), max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("channel identity")
        verbose_name_plural = _("channel identities")
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="crm_identity_unique_per_channel"),
        ]
        # Staff search finds a customer by an account id without knowing its channel.
        indexes = [models.Index(fields=["external_id"], name="crm_identity_external_id")]

    def __str__(self):
        return f"{self.get_channel_display()}: {self.external_id}"


class CustomerMerge(models.Model):
    """A record of one merge: who merged whom, when, why, which values were kept, what moved."""

    winner = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_won")
    loser = models.OneToOneField(Customer, on_delete=models.PROTECT, related_name="merge_lost")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.CharField(_("reason"), max_length=255)
    field_choices = models.JSONField(_("values kept"), default=dict, blank=True)
    moved = models.JSONField(_("what moved"), default=dict, blank=True)
    # The survivor's values the merge overwrote, {field: value before}, so that nothing is lost.
    replaced = models.JSONField(_("values replaced"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")

    def __str__(self):
        return f"{self.loser_id} → {self.winner_id}"


class SalesChannel(models.TextChoices):
    STORE = "store", _("Store")
    EC = "ec", _("EC")
    APP = "app", _("App")
    PHONE = "phone", _("Phone")
    CATALOG = "catalog", _("Catalog")


class Order(models.Model):
    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        PARTIALLY_RETURNED = "partially_returned", _("Partially returned")
        RETURNED = "returned", _("Returned")
        # The lifecycle of orders that leave later (EC/app): see README "Order lifecycle".
        PLACED = "placed", _("Placed")
        READY_FOR_PICKUP = "ready_for_pickup", _("Ready for pickup")
        SHIPPED = "shipped", _("Shipped")
        COLLECTED = "collected", _("Collected")
        DELIVERED = "delivered", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")

    class Fulfilment(models.TextChoices):
        SHIP = "ship", _("Delivery")
        PICKUP = "pickup", _("Click and collect")

    public_id = models.CharField(max_length=32, unique=True, default=new_order_id, editable=False)
    source = models.CharField(_("source system"), max_length=64)
    external_ref = models.CharField(_("external reference"), max_length=128)
    channel = models.CharField(_("channel"), max_length=16, choices=SalesChannel.choices)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="orders")
    fulfilled_from = models.ForeignKey(
        Store,
        verbose_name=_("fulfilled from"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Where the order was finally allocated (ship-from-store); empty means the selling store."),
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    ordered_at = models.DateTimeField(_("ordered at"))
    subtotal = models.PositiveIntegerField(_("subtotal (yen)"))
    points_redeemed = models.PositiveIntegerField(_("points redeemed"), default=0)
    discount = models.PositiveIntegerField(_("coupon discount (yen)"), default=0, db_default=0)
    total = models.PositiveIntegerField(
        _("paid (yen)"), help_text=_("Subtotal less points redeemed and coupon discount.")
    )
    points_earned = models.PositiveIntegerField(_("points earned"), default=0)
    returned_amount = models.PositiveIntegerField(_("returned (yen)"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.COMPLETED)
    fulfilment_type = models.CharField(
        _("fulfilment"),
        max_length=8,
        choices=Fulfilment.choices,
        blank=True,
        default="",
        db_default="",
        help_text=_("Empty: sold at the counter."),
    )
    pickup_code = models.CharField(_("pickup code"), max_length=8, blank=True, default="", db_default="")
    carrier = models.CharField(_("carrier"), max_length=64, blank=True, default="", db_default="")
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True, default="", db_default="")
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    ready_at = models.DateTimeField(_("ready for pickup at"), null=True, blank=True)
    pickup_mail_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    collected_at = models.DateTimeField(_("collected at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    assisted_by = models.ForeignKey(
        Store,
        verbose_name=_("assisted by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The store where the customer tried the item on in the 14 days before ordering."),
    )
    cancel_reason = models.CharField(_("cancel reason"), max_length=255, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=["source", "external_ref"], name="crm_order_unique_source_ref"),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") - F("points_redeemed") - F("discount")), name="crm_order_total"
            ),
            # Staff type the code at the counter: it names one pickup still waiting to be collected.
            models.UniqueConstraint(
                fields=["pickup_code"],
                condition=Q(status__in=["placed", "ready_for_pickup"], fulfilment_type="pickup"),
                name="crm_order_open_pickup_code",
            ),
            models.CheckConstraint(
                condition=~Q(fulfilment_type="pickup") | ~Q(pickup_code=""), name="crm_order_pickup_has_code"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-ordered_at"], name="crm_order_customer_time"),
            # Staff search finds a customer by an EC/POS order number without knowing its source.
            models.Index(fields=["external_ref"], name="crm_order_external_ref"),
            models.Index(fields=["ordered_at"], name="crm_order_time"),
            # The store's fulfilment queue and the uncollected-pickup sweep read open orders only.
            models.Index(
                fields=["status", "fulfilled_from"],
                condition=Q(status__in=["placed", "ready_for_pickup"]),
                name="crm_order_open",
            ),
        ]

    def __str__(self):
        return self.public_id


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveSmallIntegerField()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    unit_price = models.PositiveIntegerField()
    amount = models.PositiveIntegerField()
    returned_quantity = models.PositiveIntegerField(default=0)
    # A store sale line handing over held units: a hold's id or code, or a pickup order's code.
    reservation = models.CharField(max_length=32, blank=True, default="", db_default="")

    class Meta:
        ordering = ["line_number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_number"], name="crm_orderline_unique_number"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="crm_orderline_quantity_positive"),
            models.CheckConstraint(condition=Q(amount=F("quantity") * F("unit_price")), name="crm_orderline_amount"),
            models.CheckConstraint(
                condition=Q(returned_quantity__lte=F("quantity")), name="crm_orderline_returned_le_quantity"
            ),
        ]
        indexes = [models.Index(fields=["product"], name="crm_orderline_product")]

    def __str__(self):
        return f"{self.sku} × {self.quantity}"


class OrderReturn(models.Model):
    public_id = models.CharField(max_length=32, unique=True, default=new_return_id, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    amount = models.PositiveIntegerField(_("returned (yen)"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.public_id


class OrderReturnLine(models.Model):
    order_return = models.ForeignKey(OrderReturn, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.PositiveIntegerField()
    amount = models.PositiveIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="crm_returnline_quantity_positive")]

    def __str__(self):
        return f"{self.order_line_id} × {self.quantity}"


class ApiKey(models.Model):
    """An integration's key. Only a SHA-256 of the key is stored: keys are 256-bit random, so a
    fast hash is enough and lookup is one indexed equality."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, editable=False, help_text=_("Shown to tell keys apart."))
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    rate_limit = models.PositiveIntegerField(
        _("requests per minute"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Empty: the server's default (API_KEY_THROTTLE_RATE). Above it, requests get 429."),
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """One Idempotency-Key as a caller used it: the request's fingerprint and the stored answer."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        DONE = "done"

    owner = models.CharField(max_length=64)  # "key:<api key pk>" or "user:<user pk>"
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="crm_idempotency_unique_owner_key")]

    def __str__(self):
        return f"{self.owner} {self.key}"


from .privacy.models import AccessLogEntry, CustomerErasure  # noqa: E402, F401  the access log, erasures
