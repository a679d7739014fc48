"""Reservations: click-and-collect pickups, holds (取り置き) and try-on bookings (試着予約).

Each reserves stock at one store (a `reserve` movement), and leaves active exactly once: handed over
(a `sale` movement takes the units out of on hand and reserved; a try-on only releases them, since the
item goes back on the floor), cancelled or expired (a `release` movement)."""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from crm.exceptions import InvalidState
from crm.mail import with_sender_footer
from crm.models import Customer, Product, Store
from crm.selectors import get_customer

from ..exceptions import OutOfStock
from ..models import Reservation, StockMovement
from .stock import Move, locked_levels, record_movements
from .tryon import check_slot_free, check_try_on_slot, lock_try_on_slots

logger = logging.getLogger(__name__)

# Tunables, read when used so that settings can override them:
#   INVENTORY_PICKUP_DAYS (7)    how long a click-and-collect order waits in the store
#   INVENTORY_HOLD_DAYS (3)      how long a hold (取り置き) keeps its units
#   INVENTORY_TRY_ON_GRACE (30 min after the slot starts) until a try-on booking lapses
#   INVENTORY_HOLD_REMINDER_BEFORE (24 h) how long before a hold expires the customer is reminded
DEFAULTS = {
    "INVENTORY_PICKUP_DAYS": 7,
    "INVENTORY_HOLD_DAYS": 3,
    "INVENTORY_TRY_ON_GRACE": timedelta(minutes=30),
    "INVENTORY_HOLD_REMINDER_BEFORE": timedelta(hours=24),
}


def tunable(name: str):
    return getattr(settings, name, DEFAULTS[name])


MAX_QUANTITY = 99
# Typed at the counter: no 0/O, 1/I/L, 2/Z, 5/S, 8/B. 25^6 ≈ 244 million codes.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 6


def new_pickup_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def expiry_for(*, kind: str, now: datetime, slot_start: datetime | None) -> datetime:
    if kind == Reservation.Kind.TRY_ON:
        return slot_start + tunable("INVENTORY_TRY_ON_GRACE")
    days = tunable("INVENTORY_PICKUP_DAYS" if kind == Reservation.Kind.PICKUP else "INVENTORY_HOLD_DAYS")
    return now + timedelta(days=days)


def _validate(*, customer, store, product, quantity, kind, slot_start, now) -> None:
    errors = {}
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = [_("Use a whole number from 1 to %(max)d.") % {"max": MAX_QUANTITY}]
    if kind not in Reservation.Kind.values:
        errors["kind"] = [_("Choose pickup, hold or try_on.")]
    if not isinstance(customer, Customer):
        errors["customer"] = [_("Unknown customer.")]
    if not isinstance(product, Product):
        errors["sku"] = [_("Unknown SKU.")]
    elif not product.active:
        errors["sku"] = [_("This product is no longer sold.")]
    if not isinstance(store, Store) or not store.active:
        errors["store"] = [_("Unknown store.")]
    elif store.kind != Store.Kind.STORE:
        errors["store"] = [_("Reservations are collected in a store, not at the EC warehouse.")]
    if kind == Reservation.Kind.TRY_ON:
        if slot_start is None:
            errors["slot_start"] = [_("A try-on needs a time slot.")]
        elif slot_start <= now:
            errors["slot_start"] = [_("The slot has already started.")]
    elif slot_start is not None:
        errors["slot_start"] = [_("Only a try-on has a time slot.")]
    if errors:
        raise ValidationError(errors)


def create_reservation(
    *,
    customer: Customer,
    store: Store,
    product: Product,
    quantity: int,
    kind: str,
    slot_start: datetime | None = None,
    actor=None,
) -> Reservation:
    """Reserve `quantity` units at `store` for `customer`, or raise OutOfStock and write nothing."""  # fmt: skip
    now = timezone.now()
    _validate(
        customer=customer, store=store, product=product, quantity=quantity, kind=kind, slot_start=slot_start, now=now
    )
    if kind == Reservation.Kind.TRY_ON:
        check_try_on_slot(store=store, slot_start=slot_start)
    customer = get_customer(customer.public_id)  # a merged id reserves for the survivor
    pair = (store.pk, product.pk)
    with transaction.atomic():
        if kind == Reservation.Kind.TRY_ON:
            check_slot_free(store=store, slot_start=slot_start, capacity=lock_try_on_slots(store))
        levels = locked_levels([pair])
        available = levels[pair].available
        if available < quantity:
            raise OutOfStock(
                _("Only %(available)d available at this store.") % {"available": max(available, 0)},
                errors={"quantity": [_("Only %(available)d available.") % {"available": max(available, 0)}]},
            )
        reservation = _insert_with_unique_code(
            Reservation(
                kind=kind, customer=customer, store=store, product=product, quantity=quantity,
                slot_start=slot_start, expires_at=expiry_for(kind=kind, now=now, slot_start=slot_start), actor=actor,
            )
        )  # fmt: skip
        record_movements(
            levels,
            [Move(store.pk, product.pk, StockMovement.Kind.RESERVE, reserved=quantity,
                  reference=reservation.public_id, key=f"{reservation.public_id}:reserve")],
            actor=actor,
        )  # fmt: skip
        if kind == Reservation.Kind.PICKUP:
            from ..tasks import send_pickup_ready_mail_task

            transaction.on_commit(lambda: send_pickup_ready_mail_task.delay(reservation.pk))
    logger.info("reservation created reservation_id=%s kind=%s store=%s", reservation.public_id, kind, store.code)
    return reservation


def _insert_with_unique_code(reservation: Reservation, attempts: int = 8) -> Reservation:
    for _attempt in range(attempts):
        reservation.pickup_code = new_pickup_code()
        try:
            with transaction.atomic():
                reservation.save(force_insert=True)
            return reservation
        except IntegrityError:
            if not Reservation.objects.filter(pickup_code=reservation.pickup_code, status="active").exists():
                raise
    raise RuntimeError("no free pickup code after several attempts")


def _close(reservation: Reservation, *, status: str, actor=None, now=None) -> Reservation:
    """Leave the active state under the row lock; the stock movement and the status change commit together."""
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().select_related("store", "product").get(pk=reservation.pk)
        if reservation.status == status:
            return reservation  # a retried hand-over or cancel changes nothing
        if reservation.status != Reservation.Status.ACTIVE:
            raise InvalidState(
                _("This reservation is %(status)s.") % {"status": reservation.get_status_display()},
                status_now=reservation.status,
            )
        pair = (reservation.store_id, reservation.product_id)
        levels = locked_levels([pair])
        qty, ref = reservation.quantity, reservation.public_id
        if status == Reservation.Status.FULFILLED and reservation.kind != Reservation.Kind.TRY_ON:
            move = Move(*pair, StockMovement.Kind.SALE, on_hand=-qty, reserved=-qty, reference=ref, key=f"{ref}:close")
        else:
            move = Move(*pair, StockMovement.Kind.RELEASE, reserved=-qty, reference=ref, key=f"{ref}:close")
        record_movements(levels, [move], actor=actor)
        reservation.status = status
        reservation.closed_at = now or timezone.now()
        reservation.save(update_fields=["status", "closed_at"])
    logger.info("reservation %s reservation_id=%s", status, reservation.public_id)
    return reservation


def _refuse_order_units(reservation: Reservation) -> None:
    if reservation.order_id:
        raise InvalidState(
            _("These units belong to a click-and-collect order: collect or cancel the order."),
            status_now=reservation.status,
        )


def fulfil_reservation(*, reservation: Reservation, actor=None) -> Reservation:
    """Hand over: the units leave the store (a try-on only frees them). Again on a handed-over one: no-op."""
    _refuse_order_units(reservation)
    return _close(reservation, status=Reservation.Status.FULFILLED, actor=actor)


def cancel_reservation(*, reservation: Reservation, actor=None) -> Reservation:
    """Release the units. A handed-over or expired reservation cannot be cancelled (InvalidState)."""
    _refuse_order_units(reservation)
    return _close(reservation, status=Reservation.Status.CANCELLED, actor=actor)


def expire_reservations(*, now: datetime | None = None, batch: int = 500) -> int:
    """Expire every active reservation past its expiry and release its stock. Idempotent: a
    reservation handed over or expired meanwhile is skipped under its row lock."""
    now = now or timezone.now()
    expired = 0
    last_pk = 0
    while True:
        ids = list(
            Reservation.objects.filter(
                status=Reservation.Status.ACTIVE, expires_at__lte=now, pk__gt=last_pk, order__isnull=True
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return expired
        for pk in ids:
            try:
                _close(Reservation(pk=pk), status=Reservation.Status.EXPIRED, now=now)
                expired += 1
            except InvalidState:
                continue  # handed over or cancelled between the read and the lock
        last_pk = ids[-1]


def holds_due_for_reminder(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Reservation.objects.filter(
            kind=Reservation.Kind.HOLD, status=Reservation.Status.ACTIVE, reminder_sent_at__isnull=True,
            expires_at__gt=now, expires_at__lte=now + tunable("INVENTORY_HOLD_REMINDER_BEFORE"),
        ).values_list("pk", flat=True)
    )  # fmt: skip


def send_pickup_ready_mail(*, reservation_id: int) -> bool:
    """Tell the customer the pickup is ready, once (claimed on the row; a failed send un-claims)."""
    return _send_once(reservation_id, "ready_mail_sent_at", "inventory/email/pickup_ready", kinds=None)


def send_hold_reminder_mail(*, reservation_id: int) -> bool:
    """Remind the customer that a hold expires soon, once."""
    return _send_once(reservation_id, "reminder_sent_at", "inventory/email/hold_reminder", kinds=["hold"])


def _send_once(reservation_id: int, claim_field: str, template: str, kinds) -> bool:
    now = timezone.now()
    with transaction.atomic():
        claim = Reservation.objects.filter(pk=reservation_id, status=Reservation.Status.ACTIVE, **{
            f"{claim_field}__isnull": True})  # fmt: skip
        if kinds:
            claim = claim.filter(kind__in=kinds)
        if not claim.update(**{claim_field: now}):
            return False
        reservation = Reservation.objects.select_related("customer", "store", "product").get(pk=reservation_id)
        if not reservation.customer.email:
            return False
        with translation.override(settings.LANGUAGE_CODE):
            context = {"reservation": reservation, "customer": reservation.customer}
            send_mail(
                subject=render_to_string(f"{template}_subject.txt", context).strip(),
                message=with_sender_footer(render_to_string(f"{template}.txt", context), customer=reservation.customer),
                from_email=None,
                recipient_list=[reservation.customer.email],
            )
    logger.info("reservation mail sent reservation_id=%s mail=%s", reservation.public_id, claim_field)
    return True
