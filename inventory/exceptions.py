"""Inventory's domain errors: each has a stable `code` the API answers with (problem+json)."""

from django.utils.translation import gettext_lazy as _

from crm.exceptions import DomainError


class OutOfStock(DomainError):
    code = "out_of_stock"
    status = 409
    title = _("Not enough stock is available.")


class SyncBatchConflict(DomainError):
    code = "idempotency_conflict"
    status = 422
    title = _("This batch key was used for different counts.")
