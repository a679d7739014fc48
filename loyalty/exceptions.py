from django.utils.translation import gettext_lazy as _

from crm.exceptions import DomainError


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    status = 409
    title = _("The customer does not have enough points.")


class ReferenceConflict(DomainError):
    code = "reference_conflict"
    status = 409
    title = _("This reference was already used for a different number of points.")


class ApprovalRefused(DomainError):
    code = "approval_refused"
    status = 403
    title = _("A second person, an admin, must approve this adjustment.")
