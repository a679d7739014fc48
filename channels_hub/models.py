"""The contact hub: one ticket per customer issue across every channel, its messages, the unknown
senders (leads) kept until they are identified, and the rules that route tickets and set their SLA.

Workflows live in services/; this module holds data and the invariants the database enforces.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.ids import new_public_id
from crm.models import Channel


def new_ticket_id() -> str:
    return new_public_id("tkt")


def new_message_id() -> str:
    return new_public_id("msg")


def new_lead_id() -> str:
    return new_public_id("lead")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="hub_teams", verbose_name=_("members")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self):
        return self.name


class TeamMembership(models.Model):
    """An agent in a team. Round-robin assignment picks the available member who was given a ticket
    least recently."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hub_memberships")
    available = models.BooleanField(pgettext_lazy("agent", "available"), default=True)
    last_assigned_at = models.DateTimeField(_("last assigned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="hub_membership_unique")]

    def __str__(self):
        return f"{self.team_id}:{self.user_id}"


class Lead(models.Model):
    """Someone who contacted us and is not (yet) a known customer. Found again by the same email,
    phone or channel account, so a second message never makes a second lead; staff link the lead to a
    customer (or create one from it) and its tickets follow."""

    public_id = models.CharField(max_length=40, unique=True, default=new_lead_id, editable=False)
    # The contact the lead was first created from ("email:a@b.jp", "phone:+8190…", "line:U123");
    # unique, so that concurrent first messages from one sender create one lead.
    sender_key = models.CharField(max_length=300, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), max_length=254, blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, blank=True)
    external_id = models.CharField(_("external id"), max_length=255, blank=True)
    customer = models.ForeignKey(
        "crm.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="hub_leads",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [models.Index(fields=["channel", "external_id"], name="hub_lead_identity")]

    def __str__(self):
        return self.name or self.public_id


OPEN_TICKET = Q(status__in=["new", "open", "pending"], merged_into__isnull=True)


class Ticket(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", pgettext_lazy("ticket", "Open")
        PENDING = "pending", _("Pending")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)

    public_id = models.CharField(max_length=40, unique=True, default=new_ticket_id, editable=False)
    customer = models.ForeignKey(
        "crm.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="hub_tickets",
    )
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    category = models.CharField(_("category"), max_length=64, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="hub_tickets",
    )
    first_channel = models.CharField(_("first channel"), max_length=16, choices=Channel.choices)
    last_message_at = models.DateTimeField(_("last message at"))
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    sla_breached_at = models.DateTimeField(_("SLA breached at"), null=True, blank=True)
    csat_score = models.PositiveSmallIntegerField(_("CSAT"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("merged into"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        constraints = [
            models.CheckConstraint(
                condition=Q(customer__isnull=False) | Q(lead__isnull=False), name="hub_ticket_has_sender"
            ),
            models.CheckConstraint(
                condition=Q(csat_score__isnull=True) | Q(csat_score__gte=1, csat_score__lte=5),
                name="hub_ticket_csat_range",
            ),
            models.CheckConstraint(condition=~Q(merged_into=models.F("pk")), name="hub_ticket_not_merged_into_self"),
        ]
        # The inbox queues read open tickets newest first: partial indexes in exactly that order let a
        # queue of 10,000 tickets answer its first page without sorting them.
        indexes = [
            models.Index(
                fields=["assignee", "-last_message_at", "-id"], condition=OPEN_TICKET, name="hub_open_by_assignee"
            ),
            models.Index(fields=["team", "-last_message_at", "-id"], condition=OPEN_TICKET, name="hub_open_by_team"),
            models.Index(fields=["-last_message_at", "-id"], condition=OPEN_TICKET, name="hub_open_recent"),
            models.Index(fields=["assignee", "status", "-last_message_at"], name="hub_ticket_assignee_queue"),
            models.Index(fields=["status", "-last_message_at"], name="hub_ticket_status_queue"),
            models.Index(fields=["customer", "-last_message_at"], name="hub_ticket_customer"),
            models.Index(fields=["lead", "-last_message_at"], name="hub_ticket_lead"),
            models.Index(fields=["resolution_due"], name="hub_ticket_resolution_due"),
        ]

    def __str__(self):
        return self.public_id

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Message(models.Model):
    class Direction(models.TextChoices):
        IN = "in", _("Inbound")
        OUT = "out", _("Outbound")
        NOTE = "note", _("Internal note")

    class Author(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        AGENT = "agent", _("Agent")
        BOT = "bot", _("Bot")

    class Delivery(models.TextChoices):
        NONE = "", _("Not applicable")
        PENDING = "pending", pgettext_lazy("message delivery", "Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    public_id = models.CharField(max_length=40, unique=True, default=new_message_id, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="messages")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    author = models.CharField(_("author"), max_length=16, choices=Author.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff"), null=True, blank=True, on_delete=models.SET_NULL
    )
    body = models.TextField(_("body"))
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    external_message_id = models.CharField(_("external message id"), max_length=255, blank=True)
    # RFC 5322 Message-ID of an inbound or outbound email, for reply threading.
    email_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    sent_at = models.DateTimeField(_("sent at"))
    delivery_status = models.CharField(
        _("delivery"), max_length=16, choices=Delivery.choices, default=Delivery.NONE, blank=True
    )
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivery_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_message_id"],
                condition=~Q(external_message_id=""),
                name="hub_message_unique_external_id",
            ),
        ]
        indexes = [models.Index(fields=["ticket", "sent_at"], name="hub_message_ticket_time")]

    def __str__(self):
        return self.public_id


class Mention(models.Model):
    """A colleague @mentioned in an internal note: an in-app flag until seen, plus a mail."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hub_mentions")
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="hub_mention_unique")]
        indexes = [models.Index(fields=["user", "seen_at"], name="hub_mention_user")]

    def __str__(self):
        return f"{self.message_id}@{self.user_id}"


class RoutingRule(models.Model):
    """Applied in `position` order to a new ticket; the first rule whose conditions all hold sets the
    ticket's team, priority, tags and assignee. Empty conditions match anything."""

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=100)
    active = models.BooleanField(_("active"), default=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, blank=True)
    keywords = models.CharField(
        _("keywords"), max_length=500, blank=True, help_text=_("Comma-separated; any of them in subject or body.")
    )
    tier = models.CharField(_("customer tier"), max_length=32, blank=True)
    category = models.CharField(_("category"), max_length=64, blank=True)
    set_team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices, blank=True)
    set_category = models.CharField(_("set category"), max_length=64, blank=True)
    set_tags = models.CharField(_("tags"), max_length=200, blank=True, help_text=_("Comma-separated."))
    set_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    round_robin = models.BooleanField(
        _("round-robin"), default=False, help_text=_("Assign to the team's available agents in turn.")
    )

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self):
        return self.name

    @property
    def keyword_list(self) -> list[str]:
        return [k.strip().casefold() for k in self.keywords.split(",") if k.strip()]


class SlaPolicy(models.Model):
    """Response and resolution targets for one priority, counted in business hours (Asia/Tokyo)
    when `business_hours_only` is set."""

    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices, unique=True)
    first_response_minutes = models.PositiveIntegerField(_("first response (minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution (minutes)"))
    business_hours_only = models.BooleanField(_("business hours only"), default=True)
    business_start = models.TimeField(_("business day starts"), default="09:00")
    business_end = models.TimeField(_("business day ends"), default="18:00")
    business_days = models.CharField(
        _("business days"), max_length=7, default="01234", help_text=_("Weekdays, Monday = 0.")
    )

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.CheckConstraint(condition=Q(business_start__lt=models.F("business_end")), name="hub_sla_hours"),
        ]

    def __str__(self):
        return self.get_priority_display()


class CannedReply(models.Model):
    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("body"))
    team = models.ForeignKey(Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.CASCADE)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self):
        return self.title


class ChannelEndpoint(models.Model):
    """Where replies on one channel (LINE, chat, SNS…) are delivered: a webhook signed with
    HMAC-SHA256 of the body (header X-Tsunagu-Signature: sha256=<hex>)."""

    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, unique=True)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("HMAC secret"), max_length=255)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("outbound endpoint")
        verbose_name_plural = _("outbound endpoints")

    def __str__(self):
        return f"{self.get_channel_display()} → {self.url}"


class CsatResponse(models.Model):
    ticket = models.OneToOneField(Ticket, on_delete=models.PROTECT, related_name="csat")
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("CSAT response")
        verbose_name_plural = _("CSAT responses")
        constraints = [models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="hub_csat_score_range")]

    def __str__(self):
        return f"{self.ticket_id}: {self.score}"


# LINE's models live in channels_hub/line/models.py; importing them here registers them with the app.
from .line.models import LineAccount, LineDelivery, LineFollower, LineLinkRequest, LineWebhookEvent  # noqa: E402, F401
