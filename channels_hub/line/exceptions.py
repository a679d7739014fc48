from django.utils.translation import gettext_lazy as _

from crm.exceptions import DomainError, NotFound


class LineAccountUnknown(NotFound):
    title = _("No active LINE account of this name.")


class InvalidLineSignature(DomainError):
    code = "invalid_signature"
    status = 401
    title = _("The X-Line-Signature header does not match the body.")


class LinkRequestInvalid(DomainError):
    code = "link_expired"
    status = 410
    title = _("This link has expired or was already used.")
