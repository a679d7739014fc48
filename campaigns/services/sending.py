"""Rendering and sending one batch of a campaign's recipients.

Exactly once per customer: each recipient is claimed by ``UPDATE … SET state='sent' WHERE
state='pending'`` inside a transaction that stays open while the message is handed to the mail
server. A second worker (or a retry) touching the same row blocks on the row lock, then finds it no
longer pending and skips it. A worker killed before the server accepted the message loses its
transaction, so the row is pending again and is mailed by the retry; a mail the server refused for
this address only is marked failed in the same transaction.
"""

import logging
import math
import smtplib
import time
from dataclasses import dataclass
from email.utils import make_msgid
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Customer, Product
from crm.registry import customer_summaries, mail_variable_values, sample_mail_variable_values

from .. import conf
from ..legal import with_legal_footer
from ..models import Campaign, CampaignRecipient, Suppression
from ..rendering import RenderedMail, campaign_links, render_mail
from ..tokens import make_token
from .campaigns import finish_campaign_if_done, still_sending
from .pressure import in_quiet_hours, suppress_over_pressure

logger = logging.getLogger(__name__)
State = CampaignRecipient.State
EMAIL = CampaignRecipient.Channel.EMAIL  # LINE recipients go through line_sending.py
STATUS_CHECK_EVERY = 25  # messages between two looks at the campaign's status (pause / cancel)
_PERMANENT = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)


# --- Context ------------------------------------------------------------------------------------
def featured_products(campaign: Campaign) -> list[dict]:
    if not campaign.featured_skus:
        return []
    products = {p.sku: p for p in Product.objects.filter(sku__in=campaign.featured_skus, active=True)}
    return [
        {"sku": p.sku, "name": p.name, "brand": p.brand, "price": p.price, "category": p.category}
        for sku in campaign.featured_skus
        if (p := products.get(sku))
    ]


def customer_contexts(customers: list[Customer]) -> dict[int, dict]:
    """`customer` for the templates of each customer: profile plus the summaries other apps
    register (points balance, tier, expiring points), one query per provider for the whole batch."""
    from ..segment_fields import expiring_points

    summaries = customer_summaries(customers)
    expiring = expiring_points([c.pk for c in customers])
    out = {}
    for c in customers:
        summary = summaries.get(c.pk, {})
        out[c.pk] = {
            "family_name": c.family_name,
            "given_name": c.given_name,
            "home_store": c.home_store.name if c.home_store_id else "",
            "points_balance": summary.get("points_balance", 0),
            "tier": summary.get("tier", ""),
            "points_expiring": summary.get("points_expiring", expiring.get(c.pk, 0)),
        }
    return out


SAMPLE_CUSTOMER = {
    "family_name": "見本",
    "given_name": "花子",
    "home_store": "渋谷店",
    "points_balance": 1200,
    "tier": "gold",
    "points_expiring": 300,
}


def urls_for(campaign: Campaign, customer_id: str) -> dict:
    base = conf.base_url()
    token = make_token("unsubscribe", campaign_id=campaign.public_id, customer_id=customer_id)
    return {
        "unsubscribe": f"{base}/campaigns/u/{token}/",
        "open": f"{base}/campaigns/t/o/{make_token('open', campaign_id=campaign.public_id, customer_id=customer_id)}/",
        # The preference centre (topics, mails a week), the same page for campaign and journey mails.
        "preferences": f"{base}/campaigns/p/{make_token('preferences', campaign_id='', customer_id=customer_id)}/",
    }


def _link_wrapper(campaign: Campaign, customer_id: str, allowed: set[str]):
    base = conf.base_url()

    def wrap(url: str) -> str:
        if url not in allowed:
            return url
        token = make_token("click", campaign_id=campaign.public_id, customer_id=customer_id, url=url)
        return f"{base}/campaigns/t/c/{token}/"

    return wrap


def render_for(
    campaign: Campaign, *, customer: dict, customer_id: str, products: list[dict], track=True, extra: dict | None = None
):
    """`extra`: the recipient's values of the variables other apps register (crm.registry)."""
    urls = urls_for(campaign, customer_id)
    context = {
        **(extra or {}),
        "customer": customer,
        "unsubscribe_url": urls["unsubscribe"],
        "preferences_url": urls["preferences"],
        "products": products,
        "campaign_name": campaign.name,
    }
    allowed = campaign_links(body_text=campaign.body_text, body_html=campaign.body_html)
    rendered = render_mail(
        subject=campaign.subject,
        body_text=campaign.body_text,
        body_html=campaign.body_html,
        context=context,
        link_wrapper=_link_wrapper(campaign, customer_id, allowed) if track else None,
    )
    if track and rendered.html:
        pixel = f'<img src="{urls["open"]}" width="1" height="1" alt="">'
        html = (
            rendered.html.replace("</body>", pixel + "</body>") if "</body>" in rendered.html else rendered.html + pixel
        )
        rendered = RenderedMail(rendered.subject, rendered.text, html)
    return rendered, urls


def message_id_for(campaign: Campaign, customer_id: str) -> str:
    """Deterministic, so a bounce report from the ESP finds its recipient."""
    domain = campaign.from_email.rsplit("@", 1)[-1].strip(" >") or "tsunagu.example"
    return f"<{campaign.public_id}.{customer_id}@{domain}>"


def build_message(campaign: Campaign, *, to: str, rendered: RenderedMail, urls: dict, message_id: str, mail_connection):
    rendered = with_legal_footer(rendered, unsubscribe_url=urls["unsubscribe"], preferences_url=urls["preferences"])
    list_unsubscribe = f"<{urls['unsubscribe']}>"
    if conf.unsubscribe_mailto():
        list_unsubscribe += f", <mailto:{conf.unsubscribe_mailto()}?subject=unsubscribe>"
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=campaign.from_email,
        to=[to],
        connection=mail_connection,
        headers={
            "List-Unsubscribe": list_unsubscribe,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",  # RFC 8058 one-click
            "Message-ID": message_id,
            "X-Campaign-ID": campaign.public_id,
            "Precedence": "bulk",
        },
    )
    if rendered.html:
        message.attach_alternative(rendered.html, "text/html")
    return message


# --- Sending -----------------------------------------------------------------------------------
class _Pacer:
    def __init__(self, per_second: int):
        self.interval = 1 / per_second if per_second else 0
        self.next_at = time.monotonic()

    def wait(self):
        if not self.interval:
            return
        now = time.monotonic()
        if now < self.next_at:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval


def effective_throttle(campaign: Campaign) -> int:
    return conf.throttle() if campaign.throttle is None else campaign.throttle


@dataclass(frozen=True)
class SendPlan:
    batch_size: int
    window: int  # batches queued ahead at most
    spacing: float  # seconds between the starts of two batches, so the campaign keeps its throttle


def send_plan(campaign: Campaign) -> SendPlan:
    """Batches small enough that one runs within the queue horizon at the campaign's throttle, and a
    window no further ahead than the horizon (a task held longer than the broker's visibility timeout
    is delivered again, over and over). Without a broker (eager tasks) there is nothing to overrun:
    the whole campaign is one window."""
    rate, horizon, size = effective_throttle(campaign), conf.queue_horizon(), conf.batch_size()
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return SendPlan(size, 10**9, 0.0)
    if not rate:
        return SendPlan(size, conf.queue_window(), 0.0)
    size = max(1, min(size, int(rate * horizon)))
    spacing = size / rate
    return SendPlan(size, max(1, min(conf.queue_window(), int(horizon // spacing))), spacing)


def queue_next_batches(*, campaign_id: int, restart: bool = False) -> int:
    """Top the campaign's queued batches up to its window, in recipient order from where the last
    queued batch ended; returns how many were queued. Each batch calls this as it ends, so a campaign
    of any size has at most a window of batches in the broker. `restart` (start, resume, a stalled
    send) forgets what was queued before: a batch that runs twice mails nobody twice (the claims)."""
    from ..tasks import send_batch

    if in_quiet_hours(timezone.now()):
        return 0  # nothing leaves in the quiet hours: requeue_stalled_sends dispatches it in the morning
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id, status=Campaign.Status.SENDING).first()
        if campaign is None:
            return 0
        plan = send_plan(campaign)
        pending = CampaignRecipient.objects.filter(campaign_id=campaign_id, state=State.PENDING)
        cursor = None if restart else campaign.queued_through
        in_flight = 0
        if cursor is not None:  # rows of the last window queued and not yet sent: batches waiting or running
            last_window = (
                CampaignRecipient.objects.filter(campaign_id=campaign_id, pk__lte=cursor)
                .order_by("-pk")
                .values("pk")[: plan.window * plan.batch_size]
            )
            in_flight = math.ceil(pending.filter(pk__in=last_window).count() / plan.batch_size)
        room = plan.window - in_flight
        ahead = pending if cursor is None else pending.filter(pk__gt=cursor)
        ids = list(ahead.order_by("pk").values_list("pk", flat=True)[: max(0, room) * plan.batch_size])
        batches = [ids[i : i + plan.batch_size] for i in range(0, len(ids), plan.batch_size)]
        if batches or restart:
            campaign.queued_through = ids[-1] if ids else None
            campaign.save(update_fields=["queued_through"])
        for n, batch in enumerate(batches):
            countdown = (in_flight + n) * plan.spacing
            transaction.on_commit(partial(send_batch.apply_async, args=[campaign_id, batch], countdown=countdown))
    if batches:
        logger.info("campaign batches queued campaign_pk=%d batches=%d", campaign_id, len(batches))
    return len(batches)


def _suppress_late_opt_outs(campaign: Campaign, ids: list[int]) -> None:
    """Customers who opted out or landed on the suppression list after the audience was frozen."""
    late = CampaignRecipient.objects.filter(pk__in=ids, state=State.PENDING, channel=EMAIL).filter(
        Q(customer__email_opt_in=False) | Exists(Suppression.objects.filter(email=OuterRef("email")))
    )
    CampaignRecipient.objects.filter(pk__in=late.values("pk")).update(
        state=State.SUPPRESSED, suppressed_reason="opted_out_before_send"
    )


def send_recipient_batch(*, campaign_id: int, recipient_ids: list[int], mail_connection=None) -> int:
    """Send to the pending recipients among `recipient_ids`; return how many were mailed.
    Idempotent: rows already sent, failed or suppressed are skipped."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != Campaign.Status.SENDING:
        return 0
    now = timezone.now()
    if in_quiet_hours(now):
        return 0  # the rows stay pending; the campaign is dispatched again after the quiet hours
    _suppress_late_opt_outs(campaign, recipient_ids)
    suppress_over_pressure(recipient_ids=recipient_ids, channel=EMAIL, now=now)
    rows = list(
        CampaignRecipient.objects.filter(pk__in=recipient_ids, state=State.PENDING, channel=EMAIL)
        .select_related("customer__home_store")
        .order_by("pk")
    )
    if not rows:
        finish_campaign_if_done(campaign_id=campaign_id)
        return 0
    contexts = customer_contexts([r.customer for r in rows])
    extras = mail_variable_values([r.customer for r in rows]) if _uses_registered_variables(campaign) else {}
    products = featured_products(campaign)
    pacer = _Pacer(effective_throttle(campaign))
    mail_connection = mail_connection or get_connection()
    mailed = 0
    mail_connection.open()
    try:
        for i, row in enumerate(rows):
            if i and i % STATUS_CHECK_EVERY == 0 and not still_sending(campaign_id):
                logger.info("campaign batch stopped campaign_id=%s status changed or quiet hours", campaign.public_id)
                break
            customer_id = row.customer.public_id
            try:
                rendered, urls = render_for(
                    campaign,
                    customer=contexts[row.customer_id],
                    customer_id=customer_id,
                    products=products,
                    extra=extras.get(row.customer_id),
                )
            except ValidationError as exc:  # this customer's data takes the template past its limits
                error = "; ".join(m for messages in exc.message_dict.values() for m in messages)
                CampaignRecipient.objects.filter(pk=row.pk, state=State.PENDING).update(
                    state=State.FAILED, error=error[:255]
                )
                logger.warning("campaign mail not rendered recipient_pk=%d", row.pk)
                continue
            message_id = message_id_for(campaign, customer_id)
            message = build_message(
                campaign,
                to=row.email,
                rendered=rendered,
                urls=urls,
                message_id=message_id,
                mail_connection=mail_connection,
            )
            pacer.wait()
            mailed += _claim_and_send(row, message, rendered=rendered, message_id=message_id)
    finally:
        mail_connection.close()
    finish_campaign_if_done(campaign_id=campaign_id)
    return mailed


def _uses_registered_variables(campaign: Campaign) -> bool:
    """Registered variables cost a query or more per batch: computed only when a template names one."""
    from crm.registry import mail_variables

    sources = (campaign.subject, campaign.body_text, campaign.body_html)
    return any(variable.name in source for variable in mail_variables() for source in sources)


def recipient_extras(campaign: Campaign, customer: Customer | None) -> dict:
    """Registered variables for one real customer (a preview or test send), or the sample values."""
    if customer is None:
        return sample_mail_variable_values()
    if not _uses_registered_variables(campaign):
        return {}
    return mail_variable_values([customer]).get(customer.pk, {})


_CLAIM_SQL = (
    "UPDATE campaigns_campaignrecipient SET state = %s, sent_at = %s, attempts = attempts + 1, message_id = %s, "
    "subject = %s WHERE id = %s AND state = %s"
)


def _claim_and_send(row: CampaignRecipient, message, *, rendered: RenderedMail, message_id: str) -> int:
    # One hand-written UPDATE per mail: this loop is the send path's hot spot (the ORM's query
    # building cost as much as the statement itself).
    claim = [State.SENT, timezone.now(), message_id, rendered.subject[:255], row.pk, State.PENDING]
    handed_over = False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if conf.relaxed_commit() and connection.vendor == "postgresql":
                cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute(_CLAIM_SQL, claim)
            if not cursor.rowcount:
                return 0  # another worker or an earlier attempt has it
            try:
                message.send()
            except _PERMANENT as exc:
                # The server refused this address (or this sender for it): retrying cannot help.
                CampaignRecipient.objects.filter(pk=row.pk).update(
                    state=State.FAILED, sent_at=None, error=str(exc)[:255]
                )
                logger.warning("campaign mail refused recipient_pk=%d", row.pk)
                return 0
            handed_over = True
    except (OperationalError, InterfaceError):
        if not handed_over:
            raise  # nothing went out: the row is still pending and the task is retried
        # The mail server has the mail but the commit of its "sent" mark failed (the database
        # restarted or the connection broke): this process knows it was sent, so it records that
        # once the database answers again, instead of leaving the row pending to be mailed twice.
        _mark_sent_when_the_database_is_back(claim)
    return 1


def _mark_sent_when_the_database_is_back(claim: list) -> None:
    deadline = time.monotonic() + conf.mark_sent_patience().total_seconds()
    while True:
        try:
            connection.close()
            with connection.cursor() as cursor:
                cursor.execute(_CLAIM_SQL, claim)
            logger.warning("campaign mail marked sent after a database error recipient_pk=%d", claim[4])
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                logger.error("campaign mail sent but not marked: it may be sent again recipient_pk=%d", claim[4])
                raise
            time.sleep(1)


def send_test_mail(*, campaign: Campaign, to: list[str], customer: Customer | None = None) -> int:
    """A test send to staff addresses, rendered for a real customer or for a sample one. Not tracked;
    its unsubscribe link unsubscribes no one."""
    from .campaigns import _validate_campaign

    _validate_campaign(campaign)
    if customer is not None:
        context, customer_id = customer_contexts([customer])[customer.pk], customer.public_id
    else:
        context, customer_id = SAMPLE_CUSTOMER, "cus_test"
    rendered, urls = render_for(
        campaign, customer=context, customer_id=customer_id, products=featured_products(campaign), track=False,
        extra=recipient_extras(campaign, customer),
    )  # fmt: skip
    if customer is None:
        urls = {**urls, "unsubscribe": f"{conf.base_url()}/campaigns/u/test/"}
    rendered = RenderedMail(_("[TEST] %(subject)s") % {"subject": rendered.subject}, rendered.text, rendered.html)
    mail_connection = get_connection()
    messages = [
        build_message(campaign, to=address, rendered=rendered, urls=urls, message_id=_test_message_id(campaign),
                      mail_connection=mail_connection)
        for address in to
    ]  # fmt: skip
    sent = mail_connection.send_messages(messages) or 0
    logger.info("campaign test mail campaign_id=%s count=%d", campaign.public_id, sent)
    return sent


def _test_message_id(campaign: Campaign) -> str:
    return make_msgid(idstring=campaign.public_id)
