"""What the Act on Specified Electronic Mail asks of every marketing mail: the sender's name and
postal address, and a way to opt out. Appended to a rendered mail when its template lacks them; the
unsubscribe link in the body is the very URL of the List-Unsubscribe header (build_message passes
the same `urls`)."""

from html import escape

from django.conf import settings
from django.utils.translation import gettext as _

from .rendering import RenderedMail


def sender_identity() -> tuple[str, str]:
    return settings.TSUNAGU_SENDER_NAME.strip(), settings.TSUNAGU_SENDER_ADDRESS.strip()


def _text_footer(text: str, unsubscribe_url: str, name: str, address: str) -> str:
    lines = []
    if (name and name not in text) or (address and address not in text):
        lines.append(_("Sender: %(name)s") % {"name": name})
        if address:
            lines.append(address)
    if unsubscribe_url not in text:
        lines.append(_("To stop receiving these mails: %(url)s") % {"url": unsubscribe_url})
    if not lines:
        return text
    return text.rstrip("\n") + "\n\n--\n" + "\n".join(lines) + "\n"


def _html_footer(html: str, unsubscribe_url: str, name: str, address: str) -> str:
    parts = []
    if (name and escape(name) not in html) or (address and escape(address) not in html):
        parts.append(escape(_("Sender: %(name)s") % {"name": name}) + (f"<br>{escape(address)}" if address else ""))
    if escape(unsubscribe_url) not in html and unsubscribe_url not in html:
        link = f'<a href="{escape(unsubscribe_url)}">{escape(_("Unsubscribe"))}</a>'
        parts.append(escape(_("To stop receiving these mails:")) + " " + link)
    if not parts:
        return html
    footer = '<hr><p style="font-size:12px;color:#666">' + "<br>".join(parts) + "</p>"
    return html.replace("</body>", footer + "</body>", 1) if "</body>" in html else html + footer


def with_legal_footer(rendered: RenderedMail, *, unsubscribe_url: str) -> RenderedMail:
    """The mail with the sender's identity and the unsubscribe link, each added only where missing."""
    name, address = sender_identity()
    html = _html_footer(rendered.html, unsubscribe_url, name, address) if rendered.html else ""
    return RenderedMail(rendered.subject, _text_footer(rendered.text, unsubscribe_url, name, address), html)
