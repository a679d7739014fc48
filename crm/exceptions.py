"""Domain errors with a stable machine `code`. One DRF exception handler (crm.api.errors) turns them
into problem+json; staff pages show their message. Other apps subclass DomainError."""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "domain_error"
    status = 400
    title = _("The request cannot be carried out.")

    def __init__(self, detail=None, *, errors: dict | None = None, **extra):
        self.detail = str(detail) if detail is not None else str(self.title)
        self.errors = errors or {}
        self.extra = extra
        super().__init__(self.detail)


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = _("Not found.")


class IdentityConflict(DomainError):
    code = "identity_conflict"
    status = 409
    title = _("This channel account is already linked to another customer.")


class ProofMismatch(DomainError):
    code = "proof_mismatch"
    status = 422
    title = _("The member number and the proof do not match.")


class InvalidState(DomainError):
    code = "invalid_state"
    status = 409
    title = _("The object is not in a state that allows this.")


class TooManyAttempts(DomainError):
    code = "too_many_attempts"
    status = 429
    title = _("Too many attempts. Try again later.")

    def __init__(self, detail=None, *, retry_after: int, **extra):
        super().__init__(detail, **extra)
        self.headers = {"Retry-After": str(retry_after)}


class ReferenceConflict(DomainError):
    code = "reference_conflict"
    status = 409
    title = _("This reference was already used for a different order.")
