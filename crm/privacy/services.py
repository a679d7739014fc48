"""Disclosure export and erasure of one person (APPI), every app included through the registry.

Erasure anonymises, it does not delete: orders, amounts, SKUs, point and stock ledgers and counts
stay, pointing at a customer row that holds nothing about anyone any more, so `check_points`,
`check_stock` and the reports still add up. One transaction, the person's customer rows locked
first (the order pipeline's lock order: customer, point account, stock levels), so an order or a
campaign send for that person running at the same time sees the person before or after, never
half-erased."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..exceptions import DomainError, NotFound
from ..models import AccessLogEntry, Customer, CustomerErasure
from .access_log import log_access, log_command_access
from .registry import Person, personal_data_sources

log = logging.getLogger(__name__)
EXPORT_FORMAT = "tsunagu.personal-data/1"


class AlreadyErased(DomainError):
    code = "already_erased"
    status = 409
    title = _("This customer's personal data has already been erased.")


def _survivor_of(public_id: str) -> Customer:
    row = Customer.objects.filter(public_id=(public_id or "").strip()).first()
    if row is None:
        raise NotFound(_("No customer with this id."))
    return Customer.objects.get(pk=row.merged_into_id) if row.merged_into_id else row


def person_for(customer: Customer) -> Person:
    """The survivor and every record merged into it (merges re-point chains: one level)."""
    merged = list(Customer.objects.filter(merged_into=customer).order_by("pk"))
    rows = [customer, *merged]
    return Person(
        customer=customer,
        customer_ids=tuple(c.pk for c in rows),
        public_ids=tuple(c.public_id for c in rows),
        emails=tuple(sorted({c.email for c in rows if c.email})),
        phones=tuple(sorted({c.phone for c in rows if c.phone})),
    )


def export_customer(*, customer_id: str, request=None, user=None) -> dict:
    """One document with everything held about the person. A merged-away id exports the survivor and
    says so. The export itself is logged (before it is built, so it lists itself)."""
    customer = _survivor_of(customer_id)
    person = person_for(customer)
    what = f"export_customer {customer.public_id}"
    if request is not None:
        log_access(request=request, customers=[customer], kind=AccessLogEntry.Kind.EXPORT, what=what)
    else:
        log_command_access(customer=customer, kind=AccessLogEntry.Kind.EXPORT, what=what, user=user)
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now(),
        "customer": customer.public_id,
        "requested_id": customer_id,
        "merged_records": list(person.public_ids[1:]),
    }
    if customer_id != customer.public_id:
        document["note"] = f"{customer_id} was merged into {customer.public_id}; this is the surviving customer."
    for source in personal_data_sources():
        document.update(source.export(person))
    log.info("customer exported customer_id=%s", customer.public_id)
    return document


def erase_customer(*, customer_id: str, reason: str, request=None, user=None) -> CustomerErasure:
    """Anonymise the person in every app; irreversible. A second erasure is refused (409
    `already_erased`) and changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the data is erased (e.g. the request's reference).")]})
    if len(reason) > 255:
        raise ValidationError({"reason": [_("At most 255 characters.")]})
    customer = _survivor_of(customer_id)
    with transaction.atomic():
        ids = [customer.pk, *Customer.objects.filter(merged_into=customer).values_list("pk", flat=True)]
        locked = list(Customer.objects.filter(pk__in=ids).order_by("pk").select_for_update())
        customer = next(c for c in locked if c.pk == customer.pk)
        if customer.erased_at is not None:
            raise AlreadyErased()
        person = person_for(customer)
        what = f"erase_customer {customer.public_id}"
        if request is not None:
            log_access(request=request, customers=[customer], kind=AccessLogEntry.Kind.ERASURE, what=what)
            user = request.user if request.user.is_authenticated else None
        else:
            log_command_access(customer=customer, kind=AccessLogEntry.Kind.ERASURE, what=what, user=user)
        counts = {source.key: source.erase(person) for source in personal_data_sources()}
        erasure = CustomerErasure.objects.create(
            customer=customer, reason=reason, actor=user, actor_label=(user.email if user else "command")[:150],
            counts=counts,
        )  # fmt: skip
    log.info("customer erased customer_id=%s records=%s", customer.public_id, len(person.customer_ids))
    return erasure
