"""LINE campaign messages: who can get one, rendering, and sending one batch through the LINE
connector (channels_hub.line).

Exactly once per recipient, as for mail: rows are claimed with an UPDATE to 'sent' inside a
transaction that stays open while LINE is called, so a retry or a second worker finds them taken,
and a worker killed before LINE answered leaves them pending. The request carries an
X-Line-Retry-Key made from the campaign, the message and the recipients, so the retry of a request
that LINE had already accepted (the worker died after LINE accepted it, before the commit) gets
409 from LINE and delivers nothing a second time.

Recipients whose rendered messages are identical go together by multicast (at most 500 per
request); a message personalised per customer goes by push. Requests are paced by the campaign's
throttle (messages per second) and CAMPAIGNS_LINE_REQUESTS_PER_SECOND; a 429 or 5xx from LINE is
retried a few times in place (honouring Retry-After), then the batch task is retried by Celery.
An exhausted monthly quota pauses the campaign.
"""

import hashlib
import logging
import time
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels_hub.line.client import MAX_TEXT, MULTICAST_MAX, LineApiError, LineConnector, connector_by_pk, retry_key
from channels_hub.line.models import LineFollower
from crm.models import Channel, ChannelIdentity

from .. import conf
from ..models import Campaign, CampaignRecipient, MailEvent
from ..rendering import check_template, render_text
from .pressure import in_quiet_hours, suppress_over_pressure

logger = logging.getLogger(__name__)
State = CampaignRecipient.State
LINE = CampaignRecipient.Channel.LINE
IN_PLACE_RETRIES = 3
MAX_WAIT_SECONDS = 30.0


class LineTemporaryError(Exception):
    """LINE could not take a batch now (rate limit, outage): its rows are still pending; retry later."""


def reachable_line_user(*, account_id: int):
    """For a customer queryset: the customer's linked LINE user id that follows the account and has not
    opted out of LINE campaigns (the most recently linked one), or NULL."""
    follows = LineFollower.objects.filter(
        account_id=account_id, line_user_id=OuterRef("external_id"), follows=True, opted_out_at__isnull=True
    )
    return Subquery(
        ChannelIdentity.objects.filter(customer=OuterRef("pk"), channel=Channel.LINE)
        .filter(Exists(follows))
        .order_by("-pk")
        .values("external_id")[:1]
    )


def render_line_text(campaign: Campaign, *, customer: dict, customer_id: str, products: list[dict]) -> str:
    from ..tokens import make_token

    def unsubscribe_url() -> str:  # a callable: signed only when the template uses it
        token = make_token("unsubscribe", campaign_id=campaign.public_id, customer_id=customer_id)
        return f"{conf.base_url()}/campaigns/u/{token}/"

    context = {
        "customer": customer,
        "unsubscribe_url": unsubscribe_url,
        "products": products,
        "campaign_name": campaign.name,
    }
    return render_line_message(campaign.line_text or campaign.body_text, context=context)


def render_line_message(source: str, *, context: dict) -> str:
    """A LINE text (of a campaign or a journey step) rendered in the campaign sandbox within its limits;
    ValidationError naming `line_text` otherwise."""
    return render_text(source, context=context, field="line_text").strip()


def line_text_problems(source: str, *, trial_context: dict | None = None) -> list[str]:
    """What is wrong with a LINE text template as written: longer than LINE takes, or a template error
    (syntax, forbidden tag, unknown variable); with `trial_context`, also a trial rendering with it
    that fails (e.g. passes the output limit)."""
    if len(source) > MAX_TEXT:
        return [_("At most %(n)d characters.") % {"n": MAX_TEXT}]
    problems = check_template(source, html=False)
    if problems or trial_context is None:
        return problems
    try:
        render_line_message(source, context=trial_context)
    except ValidationError as exc:
        return [m for messages in exc.message_dict.values() for m in messages]
    return []


def unsendable_line_text(text: str) -> str:
    """'' or why LINE would refuse this rendered text."""
    if not text or len(text) > MAX_TEXT:
        return f"LINE message empty or longer than {MAX_TEXT} characters"
    return ""


def _suppress_late_opt_outs(campaign: Campaign, ids: list[int]) -> None:
    """LINE users who blocked the account or opted out after the audience was frozen."""
    reachable = LineFollower.objects.filter(
        account_id=campaign.line_account_id, line_user_id=OuterRef("line_user_id"), follows=True,
        opted_out_at__isnull=True,
    )  # fmt: skip
    late = CampaignRecipient.objects.filter(pk__in=ids, state=State.PENDING, channel=LINE).filter(~Exists(reachable))
    CampaignRecipient.objects.filter(pk__in=late.values("pk")).update(
        state=State.SUPPRESSED, suppressed_reason="opted_out_before_send"
    )


class _Pacer:
    """At most `requests` per second, and at most `messages` per second over all requests."""

    def __init__(self, *, requests: int, messages: int):
        self.per_request = 1 / requests if requests else 0
        self.per_message = 1 / messages if messages else 0
        self.next_at = time.monotonic()

    def wait(self, count: int) -> None:
        now = time.monotonic()
        if now < self.next_at:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + max(self.per_request, count * self.per_message)


def send_line_batch(*, campaign_id: int, recipient_ids: list[int]) -> int:
    """Send to the pending LINE recipients among `recipient_ids`; return how many got the message.
    Idempotent: rows already sent, failed or suppressed are skipped."""
    from .campaigns import finish_campaign_if_done, pause_campaign, still_sending
    from .sending import customer_contexts, effective_throttle, featured_products

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != Campaign.Status.SENDING or campaign.line_account_id is None:
        return 0
    now = timezone.now()
    if in_quiet_hours(now):
        return 0  # the rows stay pending; the campaign is dispatched again after the quiet hours
    _suppress_late_opt_outs(campaign, recipient_ids)
    suppress_over_pressure(recipient_ids=recipient_ids, channel=LINE, now=now)
    rows = list(
        CampaignRecipient.objects.filter(pk__in=recipient_ids, state=State.PENDING, channel=LINE)
        .select_related("customer__home_store")
        .order_by("pk")
    )
    if not rows:
        finish_campaign_if_done(campaign_id=campaign_id)
        return 0
    connector = connector_by_pk(campaign.line_account_id)
    if connector is None:
        logger.warning("line campaign paused campaign_id=%s: LINE account inactive", campaign.public_id)
        pause_campaign(campaign=campaign)
        return 0
    contexts = customer_contexts([r.customer for r in rows])
    products = featured_products(campaign)
    groups: dict[str, list[CampaignRecipient]] = {}
    for row in rows:
        try:
            text = render_line_text(
                campaign, customer=contexts[row.customer_id], customer_id=row.customer.public_id, products=products
            )
        except ValidationError as exc:  # this customer's data takes the template past its limits
            error = "; ".join(m for messages in exc.message_dict.values() for m in messages)
            CampaignRecipient.objects.filter(pk=row.pk, state=State.PENDING).update(
                state=State.FAILED, error=error[:255]
            )
            continue
        groups.setdefault(text, []).append(row)
    pacer = _Pacer(requests=conf.line_requests_per_second(), messages=effective_throttle(campaign))
    sent = 0
    size = min(conf.line_multicast_size(), MULTICAST_MAX)
    for text, members in groups.items():
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            if not still_sending(campaign_id):
                logger.info("line campaign batch stopped campaign_id=%s status changed", campaign.public_id)
                return sent
            pacer.wait(len(chunk))
            try:
                sent += _claim_and_send(campaign, connector, chunk, text)
            except LineApiError as exc:  # the monthly quota is used up
                logger.warning("line campaign paused campaign_id=%s: %s", campaign.public_id, exc.message)
                pause_campaign(campaign=campaign)
                return sent
    finish_campaign_if_done(campaign_id=campaign_id)
    return sent


def _fail(ids: list[int], error: str) -> None:
    CampaignRecipient.objects.filter(pk__in=ids, state=State.PENDING).update(state=State.FAILED, error=error[:255])


def _claim_and_send(campaign: Campaign, connector: LineConnector, rows: list[CampaignRecipient], text: str) -> int:
    ids = [r.pk for r in rows]
    unsendable = unsendable_line_text(text)
    if unsendable:
        _fail(ids, unsendable)
        return 0
    text_hash = hashlib.sha256(text.encode()).hexdigest()
    for attempt in range(IN_PLACE_RETRIES + 1):
        try:
            with transaction.atomic():
                claimed = list(
                    CampaignRecipient.objects.select_for_update(of=("self",))
                    .filter(pk__in=ids, state=State.PENDING)
                    .order_by("pk")
                    .values_list("pk", "line_user_id")
                )
                if not claimed:
                    return 0  # another worker or an earlier attempt has them
                pks = [pk for pk, _user in claimed]
                users = sorted({user for _pk, user in claimed})
                key = retry_key(campaign.public_id, text_hash, *users)
                CampaignRecipient.objects.filter(pk__in=pks).update(
                    state=State.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1, message_id=key
                )
                if len(users) == 1:
                    connector.push(to=users[0], texts=[text], key=key)
                else:
                    connector.multicast(to=users, texts=[text], key=key)
            return len(pks)
        except LineApiError as exc:
            if exc.quota_exhausted:
                raise
            if not exc.retryable:
                _fail(ids, f"LINE {exc.status}: {exc.message}")
                logger.warning("line campaign request refused campaign_id=%s status=%s", campaign.public_id, exc.status)
                return 0
            if attempt == IN_PLACE_RETRIES:
                raise LineTemporaryError(f"LINE {exc.status}: {exc.message}") from exc
            wait = exc.retry_after if exc.retry_after is not None else 2**attempt
            logger.info("line campaign request retried campaign_id=%s status=%s", campaign.public_id, exc.status)
            time.sleep(min(wait, MAX_WAIT_SECONDS))
    return 0


def record_line_block(*, account_id: int, line_user_id: str, follows: bool, at: datetime) -> bool:
    """A LINE user blocked the account: their latest LINE campaign message from it within the
    attribution window counts the opt-out (the report's `unsubscribed`)."""
    if follows:
        return False
    recipient = (
        CampaignRecipient.objects.filter(
            channel=LINE,
            line_user_id=line_user_id,
            campaign__line_account_id=account_id,
            state=State.SENT,
            sent_at__lte=at,
            sent_at__gt=at - timedelta(days=conf.attribution_days()),
        )
        .order_by("-sent_at")
        .first()
    )
    if recipient is None:
        return False
    with transaction.atomic():
        first = CampaignRecipient.objects.filter(pk=recipient.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=at
        )
        if first:
            MailEvent.objects.create(recipient=recipient, kind=MailEvent.Kind.UNSUBSCRIBE)
    return bool(first)
