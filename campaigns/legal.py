"""What the Act on Specified Electronic Mail asks of every marketing mail: the sender's name and
postal address, and a way to opt out — and ours: the preference centre (topics, mails a week).
Appended to a rendered mail when its template lacks them; the
unsubscribe link in the body is the very URL of the List-Unsubscribe header (build_message passes
the same `urls`)."""

from html import escape

from django.utils.translation import gettext as _

from crm.mail import sender_identity, sender_lines

from .rendering import RenderedMail


def _text_footer(text: str, urls: dict, name: str, address: str) -> str:
    lines = []
    if (name and name not in text) or (address and address not in text):
        lines += sender_lines()
    if urls["preferences"] and urls["preferences"] not in text:
        lines.append(_("Choose which mails you get: %(url)s") % {"url": urls["preferences"]})
    if urls["unsubscribe"] not in text:
        lines.append(_("To stop receiving these mails: %(url)s") % {"url": urls["unsubscribe"]})
    if not lines:
        return text
    return text.rstrip("\n") + "\n\n--\n" + "\n".join(lines) + "\n"


def _linked(html: str, url: str) -> bool:
    return escape(url) in html or url in html


def _html_footer(html: str, urls: dict, name: str, address: str) -> str:
    parts = []
    if (name and escape(name) not in html) or (address and escape(address) not in html):
        parts.append("<br>".join(escape(line) for line in sender_lines()))
    if urls["preferences"] and not _linked(html, urls["preferences"]):
        link = f'<a href="{escape(urls["preferences"])}">{escape(_("Mail preferences"))}</a>'
        parts.append(escape(_("Choose which mails you get:")) + " " + link)
    if not _linked(html, urls["unsubscribe"]):
        link = f'<a href="{escape(urls["unsubscribe"])}">{escape(_("Unsubscribe"))}</a>'
        parts.append(escape(_("To stop receiving these mails:")) + " " + link)
    if not parts:
        return html
    footer = '<hr><p style="font-size:12px;color:#666">' + "<br>".join(parts) + "</p>"
    return html.replace("</body>", footer + "</body>", 1) if "</body>" in html else html + footer


def with_legal_footer(rendered: RenderedMail, *, unsubscribe_url: str, preferences_url: str = "") -> RenderedMail:
    """The mail with the sender's identity, the preference centre and the unsubscribe link, each added
    only where the template has not put it already."""
    name, address = sender_identity()
    urls = {"unsubscribe": unsubscribe_url, "preferences": preferences_url}
    html = _html_footer(rendered.html, urls, name, address) if rendered.html else ""
    return RenderedMail(rendered.subject, _text_footer(rendered.text, urls, name, address), html)
