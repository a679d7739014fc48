"""Lifecycle journeys: build them (staff pages), and run them (beat, every few minutes).

A run of one journey:
1. enters the customers its trigger names now — one INSERT … SELECT … ON CONFLICT DO NOTHING per
   trigger, so a million customers cost one statement, and a re-run or a second worker enrols nobody
   twice (unique journey, customer, occasion);
2. ends the enrollments whose goal happened (a purchase since entering) — one UPDATE;
3. carries out the steps that are due. Each enrollment is claimed under its row lock (FOR UPDATE
   SKIP LOCKED: a second worker passes over it) and moved past a step in the transaction that sends
   the mail, pushes the LINE message or issues the coupon; a worker killed before the commit leaves it
   on that step for the next run. A journey message is also unique per enrollment and step in the
   database.

Mails go through the campaign machinery: the same template sandbox (rendering.render_mail), customer
context, message headers (List-Unsubscribe one-click), suppression list and consent; and they count
against the weekly cap shared with campaigns. No journey mail leaves during quiet hours.

LINE steps go through the LINE campaign machinery (line_sending: the same reachability, rendering and
text limit; the connector of channels_hub.line) and obey the same quiet hours, weekly cap, preference
topics and hold-out as mails. The push carries a retry key made of the journey, the step and the
enrollment, so the re-run after a lost commit is answered 409 by LINE and delivers nothing twice.
"""

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels_hub.line.client import LineApiError, LineConnector, connector_by_pk, retry_key
from crm.exceptions import InvalidState
from crm.models import Customer, Order

from .. import conf
from ..models import (
    Journey,
    JourneyEnrollment,
    JourneyMessage,
    JourneyStep,
    MailPreference,
    Suppression,
)
from ..rendering import LARGEST_CONTEXT, RenderedMail, check_campaign_templates, render_mail
from ..tokens import make_token
from .campaigns import _mailable, _valid_sender
from .coupons import format_code, issue_coupon
from .journey_triggers import entrants
from .line_sending import line_text_problems, reachable_line_user, render_line_message, unsendable_line_text
from .pressure import WeekCounts, in_quiet_hours

logger = logging.getLogger(__name__)
Enrollment = JourneyEnrollment
MessageState = JourneyMessage.State
CHUNK = 200  # due enrollments handled per transaction-free batch (contexts and caps read per batch)
MAX_STEPS = 20
ANALYZE_AFTER = 10_000  # enrollments inserted by one run after which the table's statistics are refreshed
# A journey step's context holds no featured products; otherwise the largest values a customer can hold.
LINE_TRIAL_CONTEXT = LARGEST_CONTEXT | {"products": []}


# --- Building ------------------------------------------------------------------------------------
def _check_journey(journey: Journey) -> None:
    errors = {}
    if not (journey.name or "").strip():
        errors["name"] = [_("Give the journey a name.")]
    if not _valid_sender(journey.from_email or ""):
        errors["from_email"] = [_("Give a sender address, e.g. Shop <news@shop.jp>.")]
    if journey.trigger == Journey.Trigger.SEGMENT_ENTERED and journey.segment_id is None:
        errors["segment"] = [_("This trigger needs a segment.")]
    if journey.trigger_days is not None and not 1 <= journey.trigger_days <= 3650:
        errors["trigger_days"] = [_("Between 1 and 3650 days.")]
    if errors:
        raise ValidationError(errors)
    journey.full_clean(exclude=["created_by"])


def save_journey(*, journey: Journey, steps: list[dict], actor=None) -> Journey:
    """Create or update a journey and replace its steps. `steps` are ``{kind, wait_days, subject,
    body_text, body_html, line_text, offer}``; errors name `steps.N.field`. A LINE step needs the
    journey's LINE account, active (the error names `line_account`). A journey's steps may change only
    while nobody is in it (a draft, or paused with no enrollment in progress)."""
    _check_journey(journey)
    errors = {}
    if not steps:
        errors["steps"] = [_("Add at least one step.")]
    if len(steps) > MAX_STEPS:
        errors["steps"] = [_("At most %(n)d steps.") % {"n": MAX_STEPS}]
    for i, step in enumerate(steps):
        kind = step.get("kind")
        if kind not in JourneyStep.Kind.values:
            errors[f"steps.{i}.kind"] = [_("Choose wait, send email, send LINE message or issue a coupon.")]
        elif kind == JourneyStep.Kind.WAIT and not 1 <= (step.get("wait_days") or 0) <= 3650:
            errors[f"steps.{i}.wait_days"] = [_("Between 1 and 3650 days.")]
        elif kind == JourneyStep.Kind.COUPON and step.get("offer") is None:
            errors[f"steps.{i}.offer"] = [_("Choose the offer of the coupon.")]
        elif kind == JourneyStep.Kind.LINE:
            text = step.get("line_text") or ""
            problems = line_text_problems(text, trial_context=LINE_TRIAL_CONTEXT) if text.strip() else []
            if not text.strip():
                errors[f"steps.{i}.line_text"] = [_("This field is required.")]
            elif problems:
                errors[f"steps.{i}.line_text"] = problems
        elif kind == JourneyStep.Kind.EMAIL:
            if not (step.get("subject") or "").strip():
                errors[f"steps.{i}.subject"] = [_("This field is required.")]
            if not (step.get("body_text") or "").strip():
                errors[f"steps.{i}.body_text"] = [_("This field is required.")]
            try:
                check_campaign_templates(
                    subject=step.get("subject") or "", body_text=step.get("body_text") or "",
                    body_html=step.get("body_html") or "",
                )  # fmt: skip
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    errors[f"steps.{i}.{field}"] = messages
    if any(step.get("kind") == JourneyStep.Kind.LINE for step in steps) and (
        journey.line_account_id is None or not journey.line_account.active
    ):
        errors["line_account"] = [_("Choose an active LINE account.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if journey.pk is not None:
            locked = Journey.objects.select_for_update().get(pk=journey.pk)
            if locked.enrollments.filter(state=Enrollment.State.ACTIVE).exists():
                raise InvalidState(
                    _("Customers are in this journey: its steps cannot change until they have finished it.")
                )
        elif actor is not None:
            journey.created_by = actor
        journey.save()
        journey.steps.all().delete()
        JourneyStep.objects.bulk_create(
            JourneyStep(
                journey=journey, position=n, kind=step["kind"], wait_days=step.get("wait_days") or 0,
                subject=step.get("subject") or "", body_text=step.get("body_text") or "",
                body_html=step.get("body_html") or "", line_text=step.get("line_text") or "", offer=step.get("offer"),
            )
            for n, step in enumerate(steps, start=1)
        )  # fmt: skip
    logger.info("journey saved journey_id=%s steps=%d", journey.public_id, len(steps))
    return journey


def activate_journey(*, journey: Journey, now: datetime | None = None) -> Journey:
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=journey.pk)
        if journey.status == Journey.Status.ACTIVE:
            raise InvalidState(_("This journey is active already."))
        if not journey.steps.exists():
            raise ValidationError({"steps": [_("Add at least one step.")]})
        journey.status = Journey.Status.ACTIVE
        # Welcome and post-purchase journeys look at what happens from the first activation on.
        journey.activated_at = journey.activated_at or now or timezone.now()
        journey.save(update_fields=["status", "activated_at", "updated_at"])
    logger.info("journey activated journey_id=%s", journey.public_id)
    return journey


def pause_journey(*, journey: Journey) -> Journey:
    """Nobody enters and no step is carried out until it is activated again."""
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=journey.pk)
        if journey.status != Journey.Status.ACTIVE:
            raise InvalidState(_("Only an active journey can be paused."))
        journey.status = Journey.Status.PAUSED
        journey.save(update_fields=["status", "updated_at"])
    return journey


# --- Running -------------------------------------------------------------------------------------
def enter_customers(*, journey: Journey, now: datetime) -> int:
    """One INSERT … SELECT for the whole trigger. The hold-out is drawn from the customer and the
    journey (the same customer is in or out on every run and database): Knuth's multiplicative hash,
    whose top bits spread consecutive customer ids evenly (a small journey of new sign-ups holds out
    its share, not a block of them).

    At most CAMPAIGNS_JOURNEY_ENTER_PER_RUN (50,000) customers enter per run: a first activation
    that names more (every lapsed customer of a win-back journey) enrols the rest over the next runs,
    ten minutes apart, so that no run holds its transaction for long (measured in bench/journeys.py:
    a 262,000-customer win-back takes six runs)."""
    sql, params = entrants(journey, now=now).query.sql_with_params()
    table = Enrollment._meta.db_table
    statement = (
        f"INSERT INTO {table} (journey_id, customer_id, occasion, holdout, state, position, next_at, entered_at) "  # noqa: S608  table name, bound values
        f"SELECT %s, t.cid, t.occasion, "
        f"((t.cid * 2654435761 + %s * 2246822519) %% 4294967296) * 100 / 4294967296 < %s, "
        f"'active', 1, %s, %s FROM ({sql}) t WHERE NOT EXISTS (SELECT 1 FROM {table} e "
        f"WHERE e.journey_id = %s AND e.customer_id = t.cid AND e.occasion = t.occasion) "
        f"LIMIT %s ON CONFLICT DO NOTHING"
    )
    moment = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        limit = conf.journey_enter_per_run()
        cursor.execute(
            statement, [journey.pk, journey.pk, journey.holdout_percent, moment, moment, *params, journey.pk, limit]
        )
        entered = max(cursor.rowcount, 0)
        if entered >= ANALYZE_AFTER and connection.vendor == "postgresql":
            # Fresh statistics, so that the next run's NOT EXISTS is a hash anti-join: planned on an
            # "empty" table it became a nested loop (500 s instead of 1 s at 78,000 entrants).
            cursor.execute(f"ANALYZE {table}")
    if entered:
        logger.info("journey entered journey_id=%s count=%d", journey.public_id, entered)
    return entered


def end_reached_goals(*, journey: Journey, now: datetime) -> int:
    """A purchase since entering ends the journey for that customer (one UPDATE)."""
    if not journey.stop_on_purchase:
        return 0
    bought = Order.objects.filter(customer=OuterRef("customer"), ordered_at__gt=OuterRef("entered_at"))
    return (
        Enrollment.objects.filter(journey=journey, state=Enrollment.State.ACTIVE)
        .filter(Exists(bought))
        .update(state=Enrollment.State.GOAL_REACHED, finished_at=now)
    )


def run_journey(*, journey: Journey, now: datetime | None = None, mail_connection=None) -> dict:
    """One evaluation of an active journey; returns what it did. Safe to run twice or concurrently."""
    now = now or timezone.now()
    if journey.status != Journey.Status.ACTIVE:
        return {"entered": 0, "goal_reached": 0, "steps": 0}
    entered = enter_customers(journey=journey, now=now)
    goals = end_reached_goals(journey=journey, now=now)
    steps = {s.position: s for s in journey.steps.select_related("offer")}
    due = Enrollment.objects.filter(journey=journey, state=Enrollment.State.ACTIVE, next_at__lte=now)
    done = 0
    mail_connection = mail_connection or get_connection()
    line = _LineSender(journey)
    last = 0
    while True:
        ids = list(due.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:CHUNK])
        if not ids:
            break
        last = ids[-1]
        caps = WeekCounts(Enrollment.objects.filter(pk__in=ids).values("customer_id"), now)
        for enrollment_id in ids:
            done += advance_enrollment(
                enrollment_id=enrollment_id, journey=journey, steps=steps, now=now, caps=caps,
                mail_connection=mail_connection, line=line,
            )  # fmt: skip
    logger.info("journey run journey_id=%s entered=%d goals=%d steps=%d", journey.public_id, entered, goals, done)
    return {"entered": entered, "goal_reached": goals, "steps": done}


def run_active_journeys(*, now: datetime | None = None) -> int:
    """The beat task's body: every active journey, one after the other."""
    count = 0
    for journey in Journey.objects.filter(status=Journey.Status.ACTIVE).select_related("segment").order_by("pk"):
        run_journey(journey=journey, now=now)
        count += 1
    return count


class _LineSender:
    """The journey's LINE connector during one run, and whether LINE still takes messages in this run:
    after a rate limit, an outage or an exhausted quota, the run's other LINE steps wait for the next
    run instead of asking LINE again for each (mails, coupons and waits go on)."""

    def __init__(self, journey: Journey):
        self.account_id = journey.line_account_id
        self.journey_id = journey.public_id
        self.unavailable = False
        self._connector: LineConnector | None = None

    def connector(self) -> LineConnector | None:
        """The active account's connector, or None (no account, inactive, or its secrets unreadable)."""
        if self._connector is None and self.account_id is not None:
            self._connector = connector_by_pk(self.account_id)
        return self._connector

    def reachable_user(self, customer_id: int) -> str:
        """The customer's linked LINE user who follows the account and has not opted out, or ''."""
        if self.account_id is None:
            return ""
        users = Customer.objects.filter(pk=customer_id).annotate(
            line_user=reachable_line_user(account_id=self.account_id)
        )
        return users.values_list("line_user", flat=True).first() or ""


def advance_enrollment(
    *, enrollment_id: int, journey: Journey, steps: dict, now: datetime, caps: WeekCounts, mail_connection,
    line: _LineSender | None = None,
) -> int:  # fmt: skip
    """Carry out the enrollment's due steps; returns how many. Claimed under the row lock. When LINE
    cannot take a step's message now, the transaction is rolled back: the enrollment stays on that
    step for the next run."""
    line = line or _LineSender(journey)
    try:
        return _advance(enrollment_id=enrollment_id, steps=steps, now=now, caps=caps,
                        mail_connection=mail_connection, line=line)  # fmt: skip
    except LineApiError as exc:  # only a rate limit, an outage or an exhausted quota come out
        line.unavailable = True
        logger.warning(
            "journey line step deferred journey_id=%s status=%s quota_exhausted=%s",
            journey.public_id, exc.status, exc.quota_exhausted,
        )  # fmt: skip
        return 0


def _advance(*, enrollment_id: int, steps: dict, now: datetime, caps: WeekCounts, mail_connection, line) -> int:
    done = 0
    with transaction.atomic():
        enrollment = (
            Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("customer__home_store")
            .filter(pk=enrollment_id, state=Enrollment.State.ACTIVE, next_at__lte=now)
            .first()
        )
        if enrollment is None:
            return 0  # another worker has it, or did it
        fields = {"position", "next_at"}
        while enrollment.next_at <= now:
            step = steps.get(enrollment.position)
            if step is None:
                enrollment.state, enrollment.finished_at = Enrollment.State.COMPLETED, now
                fields |= {"state", "finished_at"}
                break
            if step.kind == JourneyStep.Kind.WAIT:
                enrollment.next_at = max(enrollment.next_at, enrollment.entered_at) + timedelta(days=step.wait_days)
            elif step.kind == JourneyStep.Kind.COUPON:
                if not enrollment.holdout:
                    issue_coupon(offer=step.offer, customer=enrollment.customer, enrollment=enrollment, step=step)
            else:
                resume = in_quiet_hours(now)
                if resume is not None:
                    enrollment.next_at = resume
                    break
                if step.kind == JourneyStep.Kind.LINE:
                    if line.unavailable:
                        break  # LINE refused earlier in this run: the next run
                    line_user = line.reachable_user(enrollment.customer_id)
                    reachable = bool(line_user)
                else:
                    reachable = _deliverable(enrollment) == ""
                if not enrollment.holdout and reachable and caps.capped(enrollment.customer_id):
                    enrollment.next_at = now + timedelta(days=1)  # over the weekly cap: tomorrow
                    break
                if step.kind == JourneyStep.Kind.LINE:
                    sent = _send_line_step(enrollment, step, line_user=line_user, now=now, caps=caps, line=line)
                else:
                    sent = _send_step(enrollment, step, now=now, caps=caps, mail_connection=mail_connection)
                if sent:
                    caps.count(enrollment.customer_id)
            enrollment.position += 1
            done += 1
        enrollment.save(update_fields=sorted(fields))
    return done


def _deliverable(enrollment: JourneyEnrollment) -> str:
    """'' or why this customer gets no marketing mail."""
    customer = enrollment.customer
    if not customer.email_opt_in:
        return "not_opted_in"
    if not _mailable(customer.email):
        return "no_email"
    if Suppression.objects.filter(email=customer.email).exists():
        return "suppression_list"
    return ""


def _topic(step: JourneyStep) -> str:
    has_coupon = step.journey.steps.filter(kind=JourneyStep.Kind.COUPON, position__lt=step.position).exists()
    return MailPreference.Topic.OFFERS if has_coupon else MailPreference.Topic.REMINDERS


def journey_urls(step: JourneyStep, customer_id: str) -> dict:
    base = conf.base_url()
    token = make_token("unsubscribe", campaign_id=step.public_id, customer_id=customer_id)
    prefs = make_token("preferences", campaign_id="", customer_id=customer_id)
    return {"unsubscribe": f"{base}/campaigns/u/{token}/", "preferences": f"{base}/campaigns/p/{prefs}/"}


def coupon_context(coupon) -> dict | None:
    if coupon is None:
        return None
    base = conf.base_url()
    token = make_token("coupon", campaign_id=coupon.code, customer_id="")
    return {
        "code": coupon.code, "printed": format_code(coupon.code), "offer": coupon.offer.name,
        "valid_until": timezone.localtime(coupon.offer.valid_until).date().isoformat(),
        "qr_url": f"{base}/campaigns/qr/{token}.svg",
    }  # fmt: skip


def _step_context(step: JourneyStep, *, customer: dict, customer_id: str, coupon) -> tuple[dict, dict]:
    urls = journey_urls(step, customer_id)
    context = {
        "customer": customer, "unsubscribe_url": urls["unsubscribe"], "preferences_url": urls["preferences"],
        "products": [], "campaign_name": step.journey.name, "coupon": coupon_context(coupon),
    }  # fmt: skip
    return context, urls


def render_step(step: JourneyStep, *, customer: dict, customer_id: str, coupon=None) -> tuple[RenderedMail, dict]:
    context, urls = _step_context(step, customer=customer, customer_id=customer_id, coupon=coupon)
    return render_mail(subject=step.subject, body_text=step.body_text, body_html=step.body_html, context=context), urls


def render_line_step(step: JourneyStep, *, customer: dict, customer_id: str, coupon=None) -> str:
    """The LINE text of a step for one customer (the mail's variables; ValidationError naming line_text)."""
    context, _urls = _step_context(step, customer=customer, customer_id=customer_id, coupon=coupon)
    return render_line_message(step.line_text, context=context)


def _send_step(enrollment: JourneyEnrollment, step: JourneyStep, *, now, caps: WeekCounts, mail_connection) -> bool:
    """Record the step's mail for this enrollment (sent, suppressed or hold-out); True if it was sent.
    Runs inside the enrollment's transaction: if the mail server does not take it, nothing is recorded."""
    from .sending import build_message, customer_contexts

    customer = enrollment.customer
    reason = _deliverable(enrollment)
    if not reason and not caps.wants(customer.pk, _topic(step)):
        reason = "preferences"
    state = MessageState.SUPPRESSED if reason else MessageState.HOLDOUT if enrollment.holdout else MessageState.SENT
    message = JourneyMessage(
        enrollment=enrollment, step=step, customer=customer, email=customer.email or "", state=state,
        suppressed_reason=reason, created_at=now,
    )  # fmt: skip
    if state == MessageState.SENT:
        coupon = enrollment.coupons.select_related("offer").order_by("-pk").first()
        try:
            rendered, urls = render_step(
                step, customer=customer_contexts([customer])[customer.pk], customer_id=customer.public_id,
                coupon=coupon,
            )  # fmt: skip
        except ValidationError as exc:
            message.state = MessageState.FAILED
            message.error = "; ".join(m for ms in exc.message_dict.values() for m in ms)[:255]
        else:
            domain = step.journey.from_email.rsplit("@", 1)[-1].strip(" >") or "tsunagu.example"
            message.message_id = f"<{step.public_id}.{enrollment.pk}.{customer.public_id}@{domain}>"
            message.subject, message.sent_at = rendered.subject[:255], now
            build_message(
                step, to=customer.email, rendered=rendered, urls=urls, message_id=message.message_id,
                mail_connection=mail_connection,
            ).send()  # fmt: skip
    message.save()
    return message.state == MessageState.SENT


def _send_line_step(
    enrollment: JourneyEnrollment, step: JourneyStep, *, line_user: str, now, caps: WeekCounts, line: _LineSender
) -> bool:
    """Record the step's LINE message for this enrollment (sent, suppressed, hold-out or failed); True if
    LINE took it. Runs inside the enrollment's transaction and pushes there, with a retry key made of
    the journey, the step and the enrollment: if the commit is lost after LINE took the message, the
    next run pushes it again with the same key, LINE answers 409, and the connector reports it
    delivered (once). A rate limit, an outage or an exhausted quota raise LineApiError out of here, so
    that the caller rolls the enrollment back onto this step; LINE refusing the message records FAILED."""
    from .sending import customer_contexts

    customer = enrollment.customer
    message = JourneyMessage(
        enrollment=enrollment, step=step, customer=customer, channel=JourneyMessage.Channel.LINE,
        line_user_id=line_user, created_at=now,
    )  # fmt: skip
    connector = line.connector()
    reason = "" if line_user else "no_line"
    if not reason and not caps.wants(customer.pk, _topic(step)):
        reason = "preferences"
    if connector is None:
        message.state, message.error = MessageState.FAILED, "LINE account missing or inactive"
    else:
        message.state = (
            MessageState.SUPPRESSED if reason else MessageState.HOLDOUT if enrollment.holdout else MessageState.SENT
        )
        message.suppressed_reason = reason
    if message.state == MessageState.SENT:
        coupon = enrollment.coupons.select_related("offer").order_by("-pk").first()
        try:
            text = render_line_step(
                step, customer=customer_contexts([customer])[customer.pk], customer_id=customer.public_id,
                coupon=coupon,
            )  # fmt: skip
        except ValidationError as exc:
            text, message.error = "", "; ".join(m for ms in exc.message_dict.values() for m in ms)[:255]
        else:
            message.error = unsendable_line_text(text)
        if message.error:
            message.state = MessageState.FAILED
        else:
            key = retry_key(step.journey.public_id, str(step.position), str(enrollment.pk))
            try:
                sent = connector.push(to=line_user, texts=[text], key=key)
            except LineApiError as exc:
                if exc.retryable or exc.quota_exhausted:
                    raise
                message.state, message.error = MessageState.FAILED, f"LINE {exc.status}: {exc.message}"[:255]
                logger.warning("journey line message refused journey_id=%s status=%s", line.journey_id, exc.status)
            else:
                if sent.already_accepted:
                    logger.info("journey line message was delivered before journey_id=%s", line.journey_id)
                message.message_id, message.sent_at = key, now
    message.save()
    return message.state == MessageState.SENT


def journey_message_for_token(token: str) -> JourneyMessage | None:
    """The journey mail an unsubscribe token was made for (its payload names the step and customer)."""
    from ..tokens import read_token

    payload = read_token("unsubscribe", token)
    if payload is None or "." not in payload["c"]:
        return None
    journey_id, _dot, position = payload["c"].rpartition(".")
    if not position.isdigit():
        return None
    return (
        JourneyMessage.objects.select_related("step__journey", "customer")
        .filter(step__journey__public_id=journey_id, step__position=int(position),
                customer__public_id=payload["u"], state=MessageState.SENT)
        .order_by("-pk")
        .first()
    )  # fmt: skip


def unsubscribe_journey_mail(*, message: JourneyMessage) -> None:
    """One-click unsubscribe from a journey mail: the same as from a campaign mail. From a journey's
    LINE message, as from a LINE campaign's: the LINE user opts out of the account's LINE marketing
    (email consent is untouched)."""
    if message.channel == JourneyMessage.Channel.LINE:
        from channels_hub.line.services import opt_out_of_line_marketing

        account_id = message.step.journey.line_account_id
        if account_id is not None and message.line_user_id:
            opt_out_of_line_marketing(account_id=account_id, line_user_id=message.line_user_id)
    else:
        withdraw_email_consent(customer=message.customer, email=message.email)
    logger.info("journey unsubscribe journey_id=%s channel=%s", message.step.journey.public_id, message.channel)


def withdraw_email_consent(*, customer, email: str = "") -> None:
    """Unsubscribe-all: the address goes on the suppression list and email consent is withdrawn
    (source: unsubscribe link). Repeating it changes nothing more."""
    from crm.models import ConsentSource
    from crm.selectors import get_customer
    from crm.services import update_customer

    with transaction.atomic():
        email = email or customer.email
        if email:
            Suppression.objects.get_or_create(email=email, defaults={"reason": Suppression.Reason.UNSUBSCRIBED})
        survivor = get_customer(customer.public_id)
        if survivor is not None and survivor.email_opt_in:
            update_customer(customer=survivor, email_opt_in=False, consent_source=ConsentSource.UNSUBSCRIBE)
    logger.info("email consent withdrawn customer_id=%s", customer.public_id)


def update_mail_preferences(*, customer, topics: list[str], max_per_week: int | None) -> MailPreference:
    """The preference centre: topics still wanted and a personal weekly maximum."""
    unknown = set(topics) - set(MailPreference.Topic.values)
    if unknown:
        raise ValidationError({"topics": [_("Unknown topic.")]})
    if max_per_week is not None and not 1 <= max_per_week <= 50:
        raise ValidationError({"max_per_week": [_("Between 1 and 50.")]})
    preference, _created = MailPreference.objects.update_or_create(
        customer=customer, defaults={"topics": sorted(set(topics)), "max_per_week": max_per_week}
    )
    logger.info("mail preferences updated customer_id=%s", customer.public_id)
    return preference


def move_journeys_and_coupons(*, winner, loser, merge) -> int:
    """On a customer merge: the loser's coupons and journey mails move to the winner; the loser's
    journeys in progress end (the winner is evaluated on their own), and a preference of the loser's
    is kept only if the winner has none."""
    from ..models import Coupon

    coupons = Coupon.objects.filter(customer=loser).update(customer=winner)
    mails = JourneyMessage.objects.filter(customer=loser).update(customer=winner)
    Enrollment.objects.filter(customer=loser, state=Enrollment.State.ACTIVE).update(state=Enrollment.State.EXITED)
    if not MailPreference.objects.filter(customer=winner).exists():
        MailPreference.objects.filter(customer=loser).update(customer=winner)
    if coupons or mails:
        merge.moved["coupons"], merge.moved["journey_mails"] = coupons, mails
    return coupons + mails
