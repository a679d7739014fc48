"""The footer of every automatic mail to a customer or enquirer (pickup ready, hold reminders, order
pickups, the satisfaction survey, the enquiry confirmation): the sender's name and postal address
(TSUNAGU_SENDER_NAME / TSUNAGU_SENDER_ADDRESS) and, for a known customer, the link to the page where
they choose their mails or stop them all (registered by campaigns: the same preference centre as
campaign and journey mails). Campaign and journey mails get theirs from campaigns/legal.py, with
the same sender lines."""

from django.conf import settings
from django.utils.translation import gettext as _

from .registry import mail_preferences_url


def sender_identity() -> tuple[str, str]:
    return settings.TSUNAGU_SENDER_NAME.strip(), settings.TSUNAGU_SENDER_ADDRESS.strip()


def sender_lines() -> list[str]:
    """ "Sender: name" and the postal address, as every mail to a customer states them."""
    name, address = sender_identity()
    lines = [_("Sender: %(name)s") % {"name": name}] if name else []
    return lines + ([address] if address else [])


def with_sender_footer(body: str, *, customer=None) -> str:
    lines = sender_lines()
    url = mail_preferences_url(customer)
    if url:
        lines.append(_("Choose your mails or stop them: %(url)s") % {"url": url})
    if not lines:
        return body
    return body.rstrip("\n") + "\n\n--\n" + "\n".join(lines) + "\n"
