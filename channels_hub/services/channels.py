"""Channel adapters in front of `receive_message`: raw email, the public web form, calls logged by
agents and notes written by store staff at the counter."""

import email
import email.policy
import re
from datetime import UTC
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.input_guard import scrub
from crm.models import Channel, Customer

from ..models import Message, Ticket
from .inbound import InboundItem, Sender, clean_sender, new_external_id, receive_contact, receive_message

_TICKET_REF = re.compile(r"\b(tkt_[0-9A-HJKMNP-TV-Z]{26})\b")
_MSGID = re.compile(r"<([^<>\s]+)>")
# Lines that introduce the quoted previous mail in common clients (English and Japanese).
_QUOTE_HEADER = re.compile(
    r"^(On .{1,200} wrote:|.{1,200}(が|は)書きました[:：]?|-{2,}\s*(Original Message|元のメッセージ)\s*-{2,}|"
    r"From:\s.+|差出人:\s.+)$",
    re.IGNORECASE,
)
MAX_EMAIL_BYTES = 10 * 1024 * 1024


def strip_quoted_reply(text: str) -> str:
    """The new part of a reply: drop the quoted previous mail (`> ` lines and everything from a
    "On … wrote:" line on)."""
    kept = []
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if _QUOTE_HEADER.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


def _message_ids(value) -> tuple[str, ...]:
    return tuple(_MSGID.findall(str(value or "")))


def parse_email(raw: bytes) -> dict:
    """A raw RFC 822 message → the fields of an inbound message. Attachments are described (name,
    type, size), never stored or opened. Raises ValidationError naming the problem."""
    if not raw or not raw.strip():
        raise ValidationError({"source": [_("The email source is empty.")]})
    if len(raw) > MAX_EMAIL_BYTES:
        raise ValidationError({"source": [_("The email is too large.")]})
    try:
        msg: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)
        from_header = msg["From"]
        addresses = from_header.addresses if from_header is not None else ()
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise ValidationError({"source": [_("The email could not be parsed.")]}) from exc
    if not addresses or not isinstance(addresses[0], Address) or "@" not in addresses[0].addr_spec:
        raise ValidationError({"from": [_("The email has no valid From address.")]})
    sender = addresses[0]
    try:
        body_part = msg.get_body(preferencelist=("plain", "html"))
        text = body_part.get_content() if body_part is not None else ""
        if body_part is not None and body_part.get_content_type() == "text/html":
            text = html_to_text(text)
    except (LookupError, ValueError, AttributeError, KeyError) as exc:
        raise ValidationError({"source": [_("The email body could not be decoded.")]}) from exc
    attachments = []
    for part in msg.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append(
            {"name": (part.get_filename() or "")[:255], "type": part.get_content_type(), "size": len(payload)}
        )
    message_id = (_message_ids(msg["Message-ID"]) or ("",))[0]
    try:
        sent_at = parsedate_to_datetime(str(msg["Date"])) if msg["Date"] else timezone.now()
        if sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=UTC)
    except (TypeError, ValueError):
        sent_at = timezone.now()
    sent_at = min(sent_at, timezone.now())
    subject = scrub(str(msg["Subject"] or ""))
    refs = " ".join(str(msg[h] or "") for h in ("To", "Cc", "Delivered-To")) + " " + subject
    thread_ref = (_TICKET_REF.findall(refs) or [""])[0]
    # Mail arrives as it was written: bytes that are not valid UTF-8 and NULs are cleaned, not refused.
    text, message_id = scrub(text), scrub(message_id)
    return {
        "sender": {"email": scrub(sender.addr_spec), "name": scrub(sender.display_name)[:100]},
        "subject": subject[:200],
        "body": strip_quoted_reply(text) or text.strip(),
        "attachments": [{**a, "name": scrub(a["name"])} for a in attachments],
        "external_message_id": message_id[:255],
        "email_message_id": message_id[:255],
        "in_reply_to": tuple(
            scrub(i) for i in _message_ids(msg["In-Reply-To"]) + tuple(reversed(_message_ids(msg["References"])))
        ),
        "thread_ref": thread_ref,
        "sent_at": sent_at,
    }


def receive_email(*, raw: bytes) -> tuple[Message, bool]:
    fields = parse_email(raw)
    if not fields["body"] and fields["attachments"]:
        fields["body"] = str(_("(attachments only)"))
    if not fields["external_message_id"]:
        import hashlib

        fields["external_message_id"] = "sha256:" + hashlib.sha256(raw).hexdigest()
    return receive_message(channel=Channel.EMAIL, **fields)


def submit_contact_form(*, name: str, email: str, phone: str, subject: str, body: str) -> Message:
    """The public web form: a web_form message, and a confirmation mail to the sender after commit.
    Anyone can type anyone's email address into the form, so the message is unverified: it always
    opens a ticket of its own and never joins one of the customer's (API.md, Contact hub)."""
    sender = clean_sender({"email": email, "phone": phone, "name": name})
    item = InboundItem(body=body or "", sent_at=timezone.now(), external_message_id=new_external_id("web"))
    with transaction.atomic():
        message, _created = receive_contact(
            channel=Channel.WEB_FORM, sender=sender, items=[item], subject=subject, new_ticket=True
        )
        from ..tasks import send_contact_confirmation

        transaction.on_commit(lambda: send_contact_confirmation.delay(message.pk, sender.email))
    return message


def log_call(*, customer: Customer, user, body: str, ticket: Ticket | None = None, outbound: bool = False) -> Message:
    """An agent's record of a phone call with a known customer; joins the ticket given, else the
    customer's open ticket (so a chat that continues by phone stays one ticket)."""
    message, _created = receive_message(
        channel=Channel.PHONE, sender=Sender(), customer=customer, body=body, author=Message.Author.AGENT,
        author_user=user, thread_ref=ticket.public_id if ticket else "", external_message_id=new_external_id("call"),
        subject=str(_("Phone call")) if not ticket else "",
    )  # fmt: skip
    return message


def add_counter_note(*, customer: Customer, user, body: str) -> Message:
    """What a customer asked at the store counter, written down by store staff."""
    message, _created = receive_message(
        channel=Channel.STORE_CARD, sender=Sender(), customer=customer, body=body, author=Message.Author.AGENT,
        author_user=user, external_message_id=new_external_id("counter"), subject=str(_("At the counter")),
    )  # fmt: skip
    return message
