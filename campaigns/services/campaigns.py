"""Segments and campaigns: create, edit, schedule, freeze the audience and send, pause, resume, cancel."""

import hashlib
import logging
from datetime import datetime
from email.utils import parseaddr

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.exceptions import InvalidState

from ..models import Campaign, CampaignRecipient, Segment, Suppression
from ..rendering import check_campaign_templates
from ..segments import check_rule_values, segment_customers, validate_rules
from .line_sending import line_text_problems, reachable_line_user
from .pressure import in_quiet_hours

logger = logging.getLogger(__name__)
Status = Campaign.Status
State = CampaignRecipient.State
CAMPAIGN_FIELDS = (
    "name", "segment", "subject", "from_email", "body_text", "body_html", "holdout_percent", "featured_skus",
    "throttle", "channel", "line_account", "line_text",
)  # fmt: skip
_FREEZE_CHUNK = 5000


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("This field is required.")]})
    return name


def create_segment(*, name: str, rules, actor=None) -> Segment:
    name = _clean_name(name)
    validate_rules(rules)
    check_rule_values(rules)
    segment = Segment.objects.create(name=name, rules=rules, created_by=actor)
    logger.info("segment created segment_id=%s", segment.public_id)
    return segment


def update_segment(*, segment: Segment, name: str, rules) -> Segment:
    segment.name = _clean_name(name)
    validate_rules(rules)
    check_rule_values(rules)
    segment.rules = rules
    segment.save(update_fields=["name", "rules", "updated_at"])
    return segment


def _validate_campaign(campaign: Campaign) -> None:
    errors = {}
    for name, problems in _template_problems(campaign).items():
        errors[name] = problems
    if campaign.featured_skus and (
        not isinstance(campaign.featured_skus, list)
        or not all(isinstance(s, str) and s for s in campaign.featured_skus)
        or len(campaign.featured_skus) > 20
    ):
        errors["featured_skus"] = [_("Expected a list of at most 20 SKUs.")]
    try:
        campaign.full_clean(exclude=["status", "scheduled_at", "featured_skus", "line_account"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if campaign.from_email and not _valid_sender(campaign.from_email):
        errors.setdefault("from_email", []).append(_("Enter a sender like Shop <news@shop.example>."))
    if not 0 <= (campaign.holdout_percent or 0) <= 90:
        errors["holdout_percent"] = [_("Use a percentage from 0 to 90.")]
    errors.update(_line_problems(campaign))
    if errors:
        raise ValidationError(errors)


def _line_problems(campaign: Campaign) -> dict[str, list]:
    errors = {}
    if campaign.channel not in Campaign.Channel.values:
        return {"channel": [_("Choose email, LINE, or LINE falling back to email.")]}
    if campaign.channel == Campaign.Channel.EMAIL:
        return {}
    if campaign.line_account_id is None or not campaign.line_account.active:
        errors["line_account"] = [_("Choose an active LINE account.")]
    if campaign.line_text:
        problems = line_text_problems(campaign.line_text)
        if problems:
            errors["line_text"] = problems
    return errors


def _valid_sender(value: str) -> bool:
    _name, address = parseaddr(value)
    return bool(address) and "\n" not in value and _mailable(address)


def _template_problems(campaign: Campaign) -> dict[str, list[str]]:
    try:
        check_campaign_templates(subject=campaign.subject, body_text=campaign.body_text, body_html=campaign.body_html)
    except ValidationError as exc:
        return exc.message_dict
    return {}


def create_campaign(*, actor=None, **fields) -> Campaign:
    """A draft campaign; templates that do not compile or use unknown variables are refused."""
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in sorted(unknown)})
    campaign = Campaign(created_by=actor, **fields)
    _validate_campaign(campaign)
    campaign.save()
    logger.info("campaign created campaign_id=%s", campaign.public_id)
    return campaign


def update_campaign(*, campaign: Campaign, **fields) -> Campaign:
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in sorted(unknown)})
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if not campaign.is_editable:
            raise InvalidState(_("Only a draft or scheduled campaign can be edited."))
        for name, value in fields.items():
            setattr(campaign, name, value)
        _validate_campaign(campaign)
        campaign.save(update_fields=[*fields, "updated_at"])
    return campaign


def schedule_campaign(*, campaign: Campaign, at: datetime) -> Campaign:
    if at is None or at <= timezone.now():
        raise ValidationError({"scheduled_at": [_("Choose a time in the future.")]})
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if not campaign.is_editable:
            raise InvalidState(_("Only a draft or scheduled campaign can be scheduled."))
        _validate_campaign(campaign)
        campaign.status, campaign.scheduled_at = Status.SCHEDULED, at
        campaign.save(update_fields=["status", "scheduled_at", "updated_at"])
    logger.info("campaign scheduled campaign_id=%s", campaign.public_id)
    return campaign


def in_holdout(*, campaign_id: str, customer_id: str, percent: int) -> bool:
    """Deterministic: the same customer is in or out of a campaign's hold-out group on every run."""
    if not percent:
        return False
    digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def _mailable(email: str) -> bool:
    if not email:
        return False
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


def _recipient_channel(campaign: Campaign, *, email, opted_in, on_list, line_user) -> tuple[str, str]:
    """How one customer of the audience is reached, and why not (a suppression reason) if they cannot be.
    LINE needs a linked LINE account that follows the campaign's official account and has not opted out."""
    if campaign.channel != Campaign.Channel.EMAIL:
        if line_user:
            return CampaignRecipient.Channel.LINE, ""
        if campaign.channel == Campaign.Channel.LINE:
            return CampaignRecipient.Channel.LINE, "no_line"
    reason = ""
    if not opted_in:
        reason = "not_opted_in"
    elif not _mailable(email):
        reason = "no_email"
    elif on_list:
        reason = "suppression_list"
    return CampaignRecipient.Channel.EMAIL, reason


def start_campaign(*, campaign: Campaign, dispatch: bool = True) -> Campaign:
    """Freeze the audience now (one CampaignRecipient per customer of the segment: pending,
    suppressed or hold-out) and queue the sending (unless `dispatch` is False: the caller sends the
    batches itself, as `manage.py send_campaign --here` does). A campaign is sent once: any later call
    raises InvalidState and writes nothing."""
    from ..tasks import dispatch_campaign

    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().select_related("segment").get(pk=campaign.pk)
        if campaign.status not in (Status.DRAFT, Status.SCHEDULED):
            raise InvalidState(_("This campaign has been sent already (status: %(s)s).") % {"s": campaign.status})
        _validate_campaign(campaign)
        try:
            validate_rules(campaign.segment.rules)
        except ValidationError as exc:
            raise ValidationError({"segment": [_("The segment's rules are not valid.")]}) from exc
        now = timezone.now()
        audience = (
            segment_customers(campaign.segment.rules, now=now)
            .annotate(on_list=Exists(Suppression.objects.filter(email=OuterRef("email"))))
            .order_by("pk")
        )
        columns = ["pk", "public_id", "email", "email_opt_in", "on_list"]
        if campaign.channel != Campaign.Channel.EMAIL:
            audience = audience.annotate(line_user=reachable_line_user(account_id=campaign.line_account_id))
            columns.append("line_user")
        size, chunk = 0, []
        for pk, public_id, email, opted_in, on_list, *line in audience.values_list(*columns).iterator(
            chunk_size=_FREEZE_CHUNK
        ):
            size += 1
            channel, reason = _recipient_channel(
                campaign, email=email, opted_in=opted_in, on_list=on_list, line_user=line[0] if line else None
            )
            if reason:
                state = State.SUPPRESSED
            elif in_holdout(campaign_id=campaign.public_id, customer_id=public_id, percent=campaign.holdout_percent):
                state = State.HOLDOUT
            else:
                state = State.PENDING
            chunk.append(
                CampaignRecipient(
                    campaign_id=campaign.pk, customer_id=pk, channel=channel, email=email,
                    line_user_id=(line[0] or "") if channel == CampaignRecipient.Channel.LINE else "",
                    state=state, suppressed_reason=reason,
                )
            )  # fmt: skip
            if len(chunk) >= _FREEZE_CHUNK:
                CampaignRecipient.objects.bulk_create(chunk)
                chunk = []
        CampaignRecipient.objects.bulk_create(chunk)
        campaign.status, campaign.started_at, campaign.audience_size = Status.SENDING, now, size
        campaign.save(update_fields=["status", "started_at", "audience_size", "updated_at"])
        campaign_pk = campaign.pk
        if dispatch:
            transaction.on_commit(lambda: dispatch_campaign.delay(campaign_pk))
    logger.info("campaign started campaign_id=%s audience=%d", campaign.public_id, size)
    return campaign


def _transition(campaign: Campaign, *, allowed: tuple[str, ...], to: str, message) -> Campaign:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in allowed:
            raise InvalidState(message)
        campaign.status = to
        campaign.save(update_fields=["status", "updated_at"])
    logger.info("campaign %s campaign_id=%s", to, campaign.public_id)
    return campaign


def pause_campaign(*, campaign: Campaign) -> Campaign:
    """Batches stop within a few messages; the rest stays pending until resume."""
    return _transition(
        campaign, allowed=(Status.SENDING,), to=Status.PAUSED, message=_("Only a campaign that is sending can pause.")
    )


def resume_campaign(*, campaign: Campaign) -> Campaign:
    from ..tasks import dispatch_campaign

    campaign = _transition(
        campaign, allowed=(Status.PAUSED,), to=Status.SENDING, message=_("Only a paused campaign can resume.")
    )
    transaction.on_commit(lambda: dispatch_campaign.delay(campaign.pk))
    return campaign


def cancel_campaign(*, campaign: Campaign) -> Campaign:
    """Nothing more is mailed; what was sent stays sent, the rest stays pending and is reported so."""
    return _transition(
        campaign,
        allowed=(Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.PAUSED),
        to=Status.CANCELLED,
        message=_("This campaign has finished already."),
    )


def still_sending(campaign_id: int) -> bool:
    """A batch goes on while its campaign is sending and the quiet hours have not begun (paused,
    cancelled or 21:00 JST: it stops within a few messages, the rest stays pending)."""
    if in_quiet_hours(timezone.now()):
        return False
    return Campaign.objects.filter(pk=campaign_id, status=Status.SENDING).exists()


def finish_campaign_if_done(*, campaign_id: int) -> bool:
    """Sending → sent once no recipient is pending (one conditional UPDATE: safe from any worker)."""
    pending = CampaignRecipient.objects.filter(campaign_id=OuterRef("pk"), state=State.PENDING)
    done = (
        Campaign.objects.filter(pk=campaign_id, status=Status.SENDING)
        .filter(~Exists(pending))
        .update(status=Status.SENT, sent_at=timezone.now())
    )
    if done:
        logger.info("campaign sent campaign_pk=%d", campaign_id)
    return bool(done)


def start_due_campaigns(*, now: datetime | None = None) -> int:
    """Send the scheduled campaigns whose time has come (Celery beat, every minute)."""
    now = now or timezone.now()
    started = 0
    for campaign in Campaign.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now).order_by("pk"):
        try:
            start_campaign(campaign=campaign)
            started += 1
        except (InvalidState, ValidationError):
            logger.warning("scheduled campaign not started campaign_id=%s", campaign.public_id)
    return started


def move_campaign_mails(*, winner, loser, merge) -> int:
    """On a customer merge, the loser's campaign mails move to the winner, except for campaigns the
    winner got too (one row per campaign and customer): those stay with the merged-away record."""
    winner_campaigns = CampaignRecipient.objects.filter(customer=winner).values("campaign_id")
    moved = (
        CampaignRecipient.objects.filter(customer=loser)
        .exclude(campaign_id__in=winner_campaigns)
        .update(customer=winner)
    )
    if moved:
        merge.moved["campaign_mails"] = moved
    return moved
