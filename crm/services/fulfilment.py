"""The lifecycle of an order after it is recorded: shipped, ready for pickup, collected, cancelled.

    store sale ─────────────────────────────────────────────► completed
    EC/app ship ─► placed ──ship──► shipped
                     │
    EC/app pickup ─► placed ──ready──► ready_for_pickup ──collect (code)──► collected
                     │                     │   └── POS sale line with the pickup code ─► collected
                     └──cancel─────────────┴──cancel / not collected in time──► cancelled

Each transition locks the order row first, so two clerks pressing the same button hand over (or
cancel) once and the second gets 409 `invalid_state`. Stock, points and a redeemed coupon follow
inside the same transaction: a collection through `order_collected` (inventory's receiver), a
cancellation through the cancel steps declared in crm/registry.py (coupon, points, stock).
"""

import hmac
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from ..exceptions import InvalidState, PickupCodeMismatch
from ..mail import with_sender_footer
from ..models import Order, SalesChannel, Store
from ..registry import cancel_steps
from ..signals import order_collected

logger = logging.getLogger(__name__)

ONLINE_CHANNELS = (SalesChannel.EC, SalesChannel.APP)
OPEN_STATUSES = (Order.Status.PLACED, Order.Status.READY_FOR_PICKUP)
# 8 characters from an alphabet without look-alikes: 25^8 ≈ 1.5e11 codes, and never the 6-character
# code of a hold, so a code typed at the counter names one kind of thing.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 8
MAX_TEXT = 64


def new_order_pickup_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def pickup_days() -> int:
    return getattr(settings, "INVENTORY_PICKUP_DAYS", 7)


def collect_by(order: Order) -> datetime | None:
    """When an order ready for pickup is cancelled if nobody collects it."""
    return order.ready_at + timedelta(days=pickup_days()) if order.ready_at else None


def lifecycle_fields(*, channel: str, store: Store, fulfilment: dict | None, customer=None) -> dict:
    """What a new order is written with: EC/app orders start `placed` (a pickup also names its store
    and gets a code); everything else is complete when it is recorded."""
    if channel not in ONLINE_CHANNELS:
        if fulfilment:
            raise ValidationError({"fulfilment": [_("Only EC and app orders are shipped or collected.")]})
        return {}
    kind = (fulfilment or {}).get("type") or Order.Fulfilment.SHIP
    if kind != Order.Fulfilment.PICKUP:
        return {"status": Order.Status.PLACED, "fulfilment_type": Order.Fulfilment.SHIP}
    if customer is None:
        raise ValidationError({"customer": [_("A pickup order needs a customer to hand it over to.")]})
    pickup_store = fulfilment.get("store")
    if not isinstance(pickup_store, Store):
        raise ValidationError({"fulfilment.store": [_("A pickup order names the store that hands it over.")]})
    if pickup_store.kind != Store.Kind.STORE or not pickup_store.active:
        raise ValidationError({"fulfilment.store": [_("Orders are collected in a store, not at the EC warehouse.")]})
    return {
        "status": Order.Status.PLACED,
        "fulfilment_type": Order.Fulfilment.PICKUP,
        "fulfilled_from": pickup_store,
        "pickup_code": new_order_pickup_code(),
    }


def _lock(order: Order) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "fulfilled_from", "store")
        .get(pk=order.pk)
    )


def _refuse(order: Order, action) -> InvalidState:
    return InvalidState(
        _("This order is %(status)s: it cannot be %(action)s.")
        % {"status": order.get_status_display(), "action": action},
        status_now=order.status,
    )


def _text(value, field: str, errors: dict) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if not value:
        errors[field] = [_("This field is required.")]
    elif len(value) > MAX_TEXT:
        errors[field] = [_("At most %(n)d characters.") % {"n": MAX_TEXT}]
    return value


def ship_order(*, order: Order, carrier: str, tracking_number: str, actor=None) -> Order:
    """A delivery order leaves the warehouse or the store: placed → shipped, with its tracking."""
    errors: dict = {}
    carrier = _text(carrier, "carrier", errors)
    tracking_number = _text(tracking_number, "tracking_number", errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        order = _lock(order)
        if order.status != Order.Status.PLACED or order.fulfilment_type != Order.Fulfilment.SHIP:
            raise _refuse(order, _("shipped"))
        order.status = Order.Status.SHIPPED
        order.carrier, order.tracking_number, order.shipped_at = carrier, tracking_number, timezone.now()
        order.save(update_fields=["status", "carrier", "tracking_number", "shipped_at"])
    logger.info("order shipped order_id=%s", order.public_id)
    return order


def mark_order_ready(*, order: Order, actor=None) -> Order:
    """The store has put a pickup order on the shelf: placed → ready_for_pickup; the customer is
    mailed once (claimed on the row, after commit)."""
    with transaction.atomic():
        order = _lock(order)
        if order.status != Order.Status.PLACED or order.fulfilment_type != Order.Fulfilment.PICKUP:
            raise _refuse(order, _("made ready for pickup"))
        order.status, order.ready_at = Order.Status.READY_FOR_PICKUP, timezone.now()
        order.save(update_fields=["status", "ready_at"])
        from ..tasks import send_order_pickup_mail_task

        order_pk = order.pk
        transaction.on_commit(lambda: send_order_pickup_mail_task.delay(order_pk, "ready"))
    logger.info("order ready for pickup order_id=%s", order.public_id)
    return order


def collect_order(*, order: Order, pickup_code: str, actor=None) -> Order:
    """Hand a pickup order over at the counter against its code: ready_for_pickup → collected, and the
    held units leave the store (once: the row lock makes a second clerk get 409)."""
    code = pickup_code.strip().upper() if isinstance(pickup_code, str) else ""
    if not code:
        raise ValidationError({"pickup_code": [_("This field is required.")]})
    with transaction.atomic():
        order = _lock(order)
        if order.status != Order.Status.READY_FOR_PICKUP:
            raise _refuse(order, _("collected"))
        if not hmac.compare_digest(code.encode(), order.pickup_code.encode()):
            raise PickupCodeMismatch(errors={"pickup_code": [_("This is not the code of this order.")]})
        _collect_locked(order)
    logger.info("order collected order_id=%s", order.public_id)
    return order


def _collect_locked(order: Order) -> None:
    order.status, order.collected_at = Order.Status.COLLECTED, timezone.now()
    order.save(update_fields=["status", "collected_at"])
    order_collected.send(sender=Order, order=order)


def take_over_pickups(*, lines: list[dict], store: Store) -> None:
    """Called by record_order inside a store sale's transaction, before anything else is locked: a
    line whose `reservation` is a pickup order's code hands that order over (it becomes collected and
    its held units leave once), and the line keeps the order's id so that inventory takes no new
    stock for those units. Other references (holds) are left to inventory."""
    codes = {
        line["reservation"].strip().upper()
        for line in lines
        if len((line.get("reservation") or "").strip()) == CODE_LENGTH
    }
    if not codes:
        return
    orders = {
        o.pickup_code: o
        for o in Order.objects.select_for_update()
        .filter(pickup_code__in=codes, fulfilment_type=Order.Fulfilment.PICKUP, status__in=OPEN_STATUSES)
        .order_by("pk")
        .prefetch_related("lines")
    }
    errors = {}
    for i, line in enumerate(lines):
        code = (line.get("reservation") or "").strip().upper()
        if len(code) != CODE_LENGTH:
            continue
        pickup = orders.get(code)
        if pickup is None:
            errors[f"lines.{i}.reservation"] = [_("No pickup order waits with this code.")]
        elif pickup.fulfilled_from_id != store.pk:
            errors[f"lines.{i}.reservation"] = [_("This pickup order waits at another store.")]
        elif all(ol.product_id != line["product"].pk for ol in pickup.lines.all()):
            errors[f"lines.{i}.reservation"] = [_("This pickup order holds no %(sku)s.") % {"sku": line["product"].sku}]
        else:
            line["reservation"] = pickup.public_id
    if errors:
        raise ValidationError(errors)
    for pickup in orders.values():
        if any(line.get("reservation") == pickup.public_id for line in lines):
            _collect_locked(pickup)
            logger.info("order collected at the till order_id=%s", pickup.public_id)


def cancel_order(*, order: Order, reason: str = "", actor=None, notify: bool = False) -> Order:
    """Before it has left (placed or ready_for_pickup): held units released or stock put back, redeemed
    points given back, earned points taken back → cancelled. Later → InvalidState."""
    if not isinstance(reason, str) or len(reason) > 255:
        raise ValidationError({"reason": [_("At most %(n)d characters.") % {"n": 255}]})
    with transaction.atomic():
        order = _lock(order)
        if order.status not in OPEN_STATUSES:
            raise _refuse(order, _("cancelled"))
        previous = order.status
        order.status, order.cancelled_at, order.cancel_reason = Order.Status.CANCELLED, timezone.now(), reason.strip()
        order.save(update_fields=["status", "cancelled_at", "cancel_reason"])
        for step in cancel_steps():  # coupon, points, stock: the global lock order (crm/registry.py)
            step.write(order=order)
        if notify:
            from ..tasks import send_order_pickup_mail_task

            order_pk = order.pk
            transaction.on_commit(lambda: send_order_pickup_mail_task.delay(order_pk, "expired"))
    logger.info("order cancelled order_id=%s from=%s", order.public_id, previous)
    return order


def uncollected_pickups(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Order.objects.filter(
            status=Order.Status.READY_FOR_PICKUP,
            fulfilment_type=Order.Fulfilment.PICKUP,
            ready_at__lte=now - timedelta(days=pickup_days()),
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def cancel_uncollected_pickups(*, now: datetime | None = None) -> int:
    """Beat: pickups ready for longer than INVENTORY_PICKUP_DAYS are cancelled (stock released, points
    settled) and the customer is told. Safe to run twice: a collected or cancelled one is skipped."""
    cancelled = 0
    for pk in uncollected_pickups(now=now):
        try:
            cancel_order(order=Order(pk=pk), reason=str(_("Not collected in time.")), notify=True)
            cancelled += 1
        except InvalidState:
            continue  # collected or cancelled between the read and the lock
    return cancelled


def send_order_pickup_mail(*, order_id: int, kind: str) -> bool:
    """`ready`: the order waits at the store (sent once, claimed on the row); `expired`: it was not
    collected in time and is cancelled (sent once: only the cancelling transaction queues it)."""
    with transaction.atomic():
        if kind == "ready":
            claimed = Order.objects.filter(
                pk=order_id, status=Order.Status.READY_FOR_PICKUP, pickup_mail_sent_at__isnull=True
            ).update(pickup_mail_sent_at=timezone.now())
            if not claimed:
                return False
        order = Order.objects.select_related("customer", "fulfilled_from").prefetch_related("lines").get(pk=order_id)
        if order.customer is None or not order.customer.email:
            return False
        template = f"crm/email/pickup_{kind}"
        with translation.override(settings.LANGUAGE_CODE):
            context = {"order": order, "customer": order.customer, "store": order.fulfilled_from,
                       "collect_by": collect_by(order)}  # fmt: skip
            send_mail(
                subject=render_to_string(f"{template}_subject.txt", context).strip(),
                message=with_sender_footer(render_to_string(f"{template}.txt", context), customer=order.customer),
                from_email=None,
                recipient_list=[order.customer.email],
            )
    logger.info("order pickup mail sent order_id=%s mail=%s", order.public_id, kind)
    return True
