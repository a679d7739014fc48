"""Lifecycle journeys: a trigger (who enters, on which occasion), an optional segment filter and a
sequence of steps (wait, mail, LINE message, issue a coupon). Imported by campaigns.models; the evaluation lives
in services/journeys.py.

Exactly once: a customer enters a journey once per occasion (unique journey, customer, occasion),
and each step of an enrollment is carried out once (the enrollment row is claimed under its lock
and moved past the step in the same transaction; a message and a coupon are unique per enrollment
and step)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.ids import new_public_id


def new_journey_id() -> str:
    return new_public_id("jny")


class Journey(models.Model):
    class Trigger(models.TextChoices):
        CUSTOMER_CREATED = "customer_created", _("Customer created (welcome)")
        POINTS_EXPIRING = "points_expiring", _("Points expiring within N days")
        BIRTHDAY_MONTH = "birthday_month", _("Birthday month")
        ORDER_RECORDED = "order_recorded", _("Order recorded, N days later")
        NO_PURCHASE = "no_purchase", _("No purchase for N days (win-back)")
        TRY_ON_NO_PURCHASE = "try_on_no_purchase", _("Try-on without a purchase within N days")
        SEGMENT_ENTERED = "segment_entered", _("Segment entered")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")

    public_id = models.CharField(max_length=32, unique=True, default=new_journey_id, editable=False)
    name = models.CharField(_("name"), max_length=200)
    trigger = models.CharField(_("trigger"), max_length=24, choices=Trigger.choices)
    trigger_days = models.PositiveIntegerField(
        _("N days"), null=True, blank=True, help_text=_("The N of the trigger, where it has one.")
    )
    segment = models.ForeignKey(
        "campaigns.Segment", verbose_name=_("only customers in segment"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="journeys",
    )  # fmt: skip
    stop_on_purchase = models.BooleanField(
        _("stop when the customer buys"), default=True, help_text=_("The goal: a purchase ends the journey.")
    )
    from_email = models.CharField(
        pgettext_lazy("mail sender", "from"), max_length=254, help_text=_("Sender identity, e.g. Shop <news@shop.jp>")
    )
    line_account = models.ForeignKey(
        "channels_hub.LineAccount", verbose_name=_("LINE account"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", help_text=_("The official account that sends the journey's LINE steps."),
    )  # fmt: skip
    holdout_percent = models.PositiveSmallIntegerField(
        _("hold-out %"), default=0, help_text=_("Share of the entrants not mailed, to measure lift.")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    activated_at = models.DateTimeField(_("active since"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        constraints = [
            models.CheckConstraint(condition=Q(holdout_percent__lte=90), name="campaigns_journey_holdout_max_90"),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(activated_at__isnull=False), name="campaigns_journey_active_since"
            ),
        ]

    def __str__(self):
        return self.name


class JourneyStep(models.Model):
    """One step of a journey. A LINE step's message is its own field, `line_text`, not the mail's
    `body_text`: a step is one channel, and a LINE message is a short chat text (at most 5,000
    characters, no subject, no HTML, no mail footer), written as campaigns write theirs (Campaign.line_text).

    A LINE step needs its journey's LINE account. That rule spans two tables, so no CHECK constraint can
    hold it: save_journey refuses it (naming `line_account`) and a run records a FAILED message for an
    account missing or inactive. What one row can say is held by the database: a LINE step has a text."""

    class Kind(models.TextChoices):
        WAIT = "wait", _("Wait")
        EMAIL = "email", _("Send email")
        LINE = "line", _("Send LINE message")
        COUPON = "coupon", _("Issue a coupon")

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    wait_days = models.PositiveIntegerField(_("days to wait"), default=0)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body_text = models.TextField(_("text body"), blank=True)
    body_html = models.TextField(_("HTML body"), blank=True)
    line_text = models.TextField(_("LINE message"), blank=True)
    offer = models.ForeignKey(
        "campaigns.Offer", verbose_name=_("offer"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["journey", "position"]
        verbose_name = _("journey step")
        verbose_name_plural = _("journey steps")
        constraints = [
            models.UniqueConstraint(fields=["journey", "position"], name="campaigns_journey_step_position"),
            models.CheckConstraint(
                condition=~Q(kind="coupon") | Q(offer__isnull=False), name="campaigns_journey_coupon_has_offer"
            ),
            models.CheckConstraint(
                condition=~Q(kind="line") | ~Q(line_text=""), name="campaigns_journey_line_has_text"
            ),
        ]

    def __str__(self):
        return f"{self.journey_id}#{self.position} {self.kind}"

    # What the campaign mail machinery (rendering, links, headers) reads from a "campaign".
    @property
    def public_id(self) -> str:
        return f"{self.journey.public_id}.{self.position}"

    @property
    def name(self) -> str:
        return self.journey.name

    @property
    def from_email(self) -> str:
        return self.journey.from_email

    featured_skus: list = []


class JourneyEnrollment(models.Model):
    """One customer in one journey on one occasion (the birthday of a year, one order, one lapse)."""

    class State(models.TextChoices):
        ACTIVE = "active", _("In progress")
        COMPLETED = "completed", _("Completed")
        GOAL_REACHED = "goal_reached", _("Goal reached (bought)")
        EXITED = "exited", _("Left (journey paused or customer merged)")

    # No index of their own: the unique (journey, customer, occasion) and the customer index below serve
    # them (two redundant indexes made a first run's large insert a third slower).
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrollments", db_index=False)
    customer = models.ForeignKey(
        "crm.Customer", on_delete=models.PROTECT, related_name="journey_enrollments", db_index=False
    )
    occasion = models.CharField(max_length=64)
    holdout = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    position = models.PositiveSmallIntegerField(default=1, help_text=_("The next step to carry out."))
    next_at = models.DateTimeField()
    entered_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("journey enrollment")
        verbose_name_plural = _("journey enrollments")
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "customer", "occasion"], name="campaigns_enrollment_once_per_occasion"
            ),
        ]
        indexes = [
            models.Index(fields=["journey", "next_at"], condition=Q(state="active"), name="campaigns_enrollment_due"),
            models.Index(fields=["customer"], name="campaigns_enrollment_customer"),
        ]

    def __str__(self):
        return f"{self.journey_id}:{self.customer_id}:{self.occasion}"


class JourneyMessage(models.Model):
    """A mail or LINE message of a journey step to one enrolled customer: sent, suppressed (no consent,
    no address, suppression list; for LINE no reachable LINE user) or hold-out. Unique per enrollment
    and step."""

    class Channel(models.TextChoices):
        EMAIL = "email", pgettext_lazy("channel", "Email")
        LINE = "line", "LINE"

    class State(models.TextChoices):
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SUPPRESSED = "suppressed", _("Suppressed")
        HOLDOUT = "holdout", _("Hold-out")

    enrollment = models.ForeignKey(JourneyEnrollment, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(JourneyStep, on_delete=models.CASCADE, related_name="messages")
    customer = models.ForeignKey("crm.Customer", on_delete=models.PROTECT, related_name="journey_mails")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    email = models.EmailField(max_length=254, blank=True)
    line_user_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=State.choices)
    suppressed_reason = models.CharField(max_length=32, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("journey mail")
        verbose_name_plural = _("journey mails")
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], name="campaigns_journey_message_once"),
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False), name="campaigns_journey_sent_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(channel="line", state="sent") | ~Q(line_user_id=""),
                name="campaigns_journey_line_sent_to_user",
            ),
        ]
        indexes = [models.Index(fields=["customer", "sent_at"], name="campaigns_journey_msg_cus_sent")]

    def __str__(self):
        return f"{self.enrollment_id}#{self.step_id} {self.state}"


class MailPreference(models.Model):
    """The preference centre: which kinds of mail a customer wants and how many a week, beyond
    unsubscribe-all (which withdraws email consent)."""

    class Topic(models.TextChoices):
        NEWS = "news", _("Sale notices and news")
        OFFERS = "offers", _("Coupons and personal offers")
        REMINDERS = "reminders", _("Reminders (points expiring, after a purchase or try-on)")

    customer = models.OneToOneField("crm.Customer", on_delete=models.CASCADE, related_name="mail_preference")
    topics = models.JSONField(default=list, help_text=_("The topics the customer still wants."))
    max_per_week = models.PositiveSmallIntegerField(null=True, blank=True, help_text=_("Empty: the site default."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("mail preference")
        verbose_name_plural = _("mail preferences")

    def __str__(self):
        return f"{self.customer_id}"
