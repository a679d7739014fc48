"""LINE's account-link flow, with crm's member proof.

1. The LINE user asks (the account's keyword, or a `tsunagu:link` postback): LINE issues a link
   token for that user and we send them our link page with it.
2. On the page the member proves who they are exactly as `POST /api/v1/customers/link/` asks (member
   number + birth date or phone), through crm's `link_channel_account` — so its proof and lockout rules
   apply unchanged. The link it would make is rolled back here: the LINE user id is only linked when
   LINE confirms that the person who proved it is the LINE user the token was issued for (a token
   forwarded to someone else fails at LINE). We keep the proof encrypted, make a nonce and send the
   browser to LINE's account-link dialog with it.
3. LINE sends the accountLink event (result and nonce); for `ok` we call `link_channel_account` again
   with the kept proof, which makes the `ChannelIdentity` (channel `line`), erase the proof, move the
   LINE user's earlier tickets to the customer and tell the user in LINE.
"""

import json
import logging
import secrets
from datetime import date, timedelta
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.exceptions import DomainError
from crm.models import Channel, ChannelIdentity
from crm.services import link_channel_account

from ...models import Lead
from ...services.tickets import link_lead, site_url
from ..client import LineConnector, connector_by_pk
from ..crypto import decrypt, encrypt
from ..exceptions import LinkRequestInvalid
from ..models import LineLinkRequest, LineWebhookEvent
from .outbound import send_text

logger = logging.getLogger(__name__)
Status = LineLinkRequest.Status

LINK_TOKEN_TTL = timedelta(minutes=10)  # LINE's link tokens are valid for 10 minutes
PROOF_TTL = timedelta(minutes=30)  # a proof waits this long for LINE's accountLink event, then is erased
MAX_ATTEMPTS_PER_TOKEN = 5


class _ProofAccepted(Exception):
    pass


def start_account_link(*, connector: LineConnector, line_user_id: str, reply_event: LineWebhookEvent | None = None):
    """Ask LINE for a link token and send the user the page where they prove their membership."""
    if ChannelIdentity.objects.filter(channel=Channel.LINE, external_id=line_user_id).exists():
        send_text(connector=connector, line_user_id=line_user_id, reply_event=reply_event,
                  text=_("Your LINE account is already connected to your membership."))  # fmt: skip
        return None
    token = connector.issue_link_token(line_user_id)
    request = LineLinkRequest.objects.create(
        account_id=connector.pk, line_user_id=line_user_id, link_token=token[:255],
        expires_at=timezone.now() + LINK_TOKEN_TTL,
    )  # fmt: skip
    url = site_url(reverse("line:link", args=[connector.name])) + "?" + urlencode({"linkToken": token})
    send_text(
        connector=connector, line_user_id=line_user_id, reply_event=reply_event,
        text=_("Connect your membership to LINE here (valid for 10 minutes):\n%(url)s") % {"url": url},
    )  # fmt: skip
    logger.info("line link token issued account=%s request_pk=%d", connector.name, request.pk)
    return request


def link_request_for_token(*, name: str, link_token: str) -> LineLinkRequest:
    """The open request of this link token, or LinkRequestInvalid (unknown, expired, used up)."""
    request = (
        LineLinkRequest.objects.select_related("account")
        .filter(account__name=name, account__active=True, link_token=(link_token or "")[:255])
        .first()
    )
    if (
        request is None
        or request.status != Status.ISSUED
        or request.expires_at <= timezone.now()
        or request.failed_attempts >= MAX_ATTEMPTS_PER_TOKEN
    ):
        raise LinkRequestInvalid()
    return request


def prove_line_member(
    *, link_request: LineLinkRequest, member_number: str, birth_date: date | None = None, phone: str = ""
) -> str:
    """Check the member's proof with crm's link service (its errors — wrong proof, too many
    attempts, account linked elsewhere — come out unchanged) and return the URL of LINE's
    account-link dialog to send the browser to."""
    proof = {"member_number": member_number, "birth_date": birth_date, "phone": phone or None}
    with transaction.atomic():
        request = LineLinkRequest.objects.select_for_update().get(pk=link_request.pk)
        link_request_for_token(name=link_request.account.name, link_token=request.link_token)
        failure = None
        try:
            with transaction.atomic():
                try:
                    customer = link_channel_account(channel=Channel.LINE, external_id=request.line_user_id, **proof)
                except DomainError as exc:
                    failure = exc  # what the service recorded about the failed attempt is kept
                else:
                    raise _ProofAccepted()  # undo the link: LINE's accountLink event makes it
        except _ProofAccepted:
            pass
        if failure is not None:
            LineLinkRequest.objects.filter(pk=request.pk).update(failed_attempts=F("failed_attempts") + 1)
        else:
            request.customer = customer
            request.nonce = secrets.token_urlsafe(32)
            request.proof_encrypted = encrypt(
                json.dumps({**proof, "birth_date": birth_date.isoformat() if birth_date else None})
            )
            request.status = Status.PROVEN
            request.save(update_fields=["customer", "nonce", "proof_encrypted", "status"])
    if failure is not None:
        logger.info("line link proof refused request_pk=%d code=%s", request.pk, failure.code)
        raise failure
    logger.info("line link proven request_pk=%d customer_id=%s", request.pk, customer.public_id)
    connector = connector_by_pk(request.account_id)
    if connector is None:
        raise LinkRequestInvalid()
    return connector.account_link_url(link_token=request.link_token, nonce=request.nonce)


def complete_account_link(
    *, connector: LineConnector, line_user_id: str, result: str, nonce: str, reply_event=None
) -> str:
    """LINE's accountLink event. Returns "linked", or why nothing was linked."""
    with transaction.atomic():
        request = (
            LineLinkRequest.objects.select_for_update()
            .filter(account_id=connector.pk, nonce=nonce or None, status=Status.PROVEN)
            .first()
        )
        if request is None:
            return "unknown_nonce"
        outcome = _link(request, line_user_id=line_user_id, result=result)
    if outcome == "linked":
        text = _("Your membership is now connected to LINE.")
    else:
        text = _("We could not connect your membership. Please send “%(keyword)s” to try again.") % {
            "keyword": connector.link_keyword
        }
    send_text(connector=connector, line_user_id=line_user_id, reply_event=reply_event, text=text)
    return outcome


def _link(request: LineLinkRequest, *, line_user_id: str, result: str) -> str:
    request.completed_at = timezone.now()
    outcome = "linked"
    if result != "ok":
        outcome = "line_refused"
    elif request.line_user_id != line_user_id:
        outcome = "other_line_user"
    elif request.created_at < timezone.now() - PROOF_TTL:
        outcome = "expired"
    if outcome == "linked":
        proof = json.loads(decrypt(request.proof_encrypted))
        birth_date = date.fromisoformat(proof["birth_date"]) if proof.get("birth_date") else None
        try:
            with transaction.atomic():
                customer = link_channel_account(
                    channel=Channel.LINE, external_id=line_user_id, member_number=proof["member_number"],
                    birth_date=birth_date, phone=proof.get("phone"),
                )  # fmt: skip
        except DomainError as exc:
            outcome = exc.code
        else:
            request.customer = customer
            lead = Lead.objects.filter(channel=Channel.LINE, external_id=line_user_id, customer__isnull=True).first()
            if lead is not None:
                link_lead(lead=lead, customer=customer)
    request.status = Status.LINKED if outcome == "linked" else Status.FAILED
    request.error = "" if outcome == "linked" else outcome[:64]
    request.proof_encrypted = ""
    request.save(update_fields=["status", "error", "proof_encrypted", "customer", "completed_at"])
    logger.info("line account link request_pk=%d outcome=%s", request.pk, outcome)
    return outcome


def purge_link_proofs(*, now=None) -> int:
    """Erase proofs that LINE never confirmed (beat, hourly): they are personal data kept for minutes."""
    now = now or timezone.now()
    return LineLinkRequest.objects.filter(
        created_at__lt=now - PROOF_TTL, status__in=[Status.ISSUED, Status.PROVEN]
    ).update(proof_encrypted="", status=Status.FAILED, error="expired")
