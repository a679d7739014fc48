"""The footer of every automatic mail to a customer or enquirer (pickup ready, hold reminders, order
pickups, the satisfaction survey, the enquiry confirmation): the sender's name and postal address
(TSUNAGU_SENDER_NAME / TSUNAGU_SENDER_ADDRESS) and, for a known customer, the link to the page where
they choose their mails or stop them all (registered by campaigns: the same preference centre as
campaign and journey mails). Campaign mails get theirs from campaigns/legal.py."""

from django.conf import settings
from django.utils.translation import gettext as _

from .registry import mail_preferences_url


def with_sender_footer(body: str, *, customer=None) -> str:
    lines = []
    name, address = settings.TSUNAGU_SENDER_NAME.strip(), settings.TSUNAGU_SENDER_ADDRESS.strip()
    if name:
        lines.append(_("Sender: %(name)s") % {"name": name})
    if address:
        lines.append(address)
    url = mail_preferences_url(customer)
    if url:
        lines.append(_("Choose your mails or stop them: %(url)s") % {"url": url})
    if not lines:
        return body
    return body.rstrip("\n") + "\n\n--\n" + "\n".join(lines) + "\n"
