import logging
from collections import defaultdict
from datetime import datetime
from functools import partial

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.db.models.constants import OnConflict
from django.utils.translation import gettext_lazy as _

from ..exceptions import DomainError, InvalidState, ReferenceConflict
from ..ids import new_order_id
from ..models import Customer, Order, OrderLine, OrderReturn, OrderReturnLine, Product, SalesChannel, Store
from ..money import points_in_yen
from ..registry import COUPON_STEP, DraftLine, OrderDraft, ReturnDraft, order_steps, return_steps
from ..selectors import get_customer
from ..signals import order_recorded, order_returned
from ..transactions import service_atomic
from .fulfilment import lifecycle_fields, take_over_pickups

logger = logging.getLogger(__name__)


# A cancelled order has nothing left to return; a pickup not yet collected is cancelled instead. (A
# delivery still `placed` may be returned: not every EC site reports shipping.)
def _returnable(order: Order) -> bool:
    if order.status == Order.Status.CANCELLED:
        return False
    waiting = (Order.Status.PLACED, Order.Status.READY_FOR_PICKUP)
    return not (order.fulfilment_type == Order.Fulfilment.PICKUP and order.status in waiting)


def record_order(
    *,
    source: str,
    external_ref: str,
    channel: str,
    store: Store,
    ordered_at: datetime,
    lines: list[dict],
    customer: Customer | None = None,
    redeem_points: int = 0,
    coupon_code: str = "",
    fulfilment: dict | None = None,
) -> tuple[Order, bool]:
    """Record a sale from any channel, once: `(source, external_ref)` is unique, so the same order
    sent again (a retry, a concurrent duplicate) returns the original with created=False, and the
    same reference with other content (lines, customer, channel, store, points) raises
    ReferenceConflict, the original unchanged.

    `lines` are ``{product, quantity, unit_price}``. The steps other apps registered in
    crm.registry (points, stock, …) run inside the transaction and may refuse the order by raising;
    then nothing is written. The order row is written once, with what the steps decided. See the
    pipeline contract in crm/registry.py; a new kind of input (e.g. a fulfilment choice) becomes an
    argument here and a field of OrderDraft, so that every step sees it. A `coupon_code` is such an
    input: campaigns' coupon step reserves it and takes its discount off the total.

    `fulfilment` (EC/app only) is ``{type: ship|pickup, store}``: such orders start `placed` and
    follow the lifecycle of services/fulfilment.py; a pickup is held at its store under a code. A
    store sale line may carry `reservation` (held units it hands over: a pickup order is collected
    here, after the customer and before every step, in the global lock order).
    """
    existing = Order.objects.filter(source=source, external_ref=external_ref).first()
    if existing is not None:
        return _replay(existing, channel=channel, store=store, customer=customer, lines=lines,
                       redeem_points=redeem_points), False  # fmt: skip
    _validate_order(channel=channel, store=store, lines=lines, customer=customer, redeem_points=redeem_points)
    subtotal = sum(line["quantity"] * line["unit_price"] for line in lines)
    lifecycle = lifecycle_fields(channel=channel, store=store, fulfilment=fulfilment, customer=customer)
    with service_atomic():
        draft = OrderDraft(
            public_id=new_order_id(), source=source, external_ref=external_ref, channel=channel, store=store,
            customer=lock_customer(customer) if customer is not None else None, ordered_at=ordered_at,
            lines=[],
            redeem_points=redeem_points, subtotal=subtotal, total=subtotal - points_in_yen(redeem_points),
            coupon_code=(coupon_code or "").strip(),
            lifecycle=lifecycle, fulfilled_from=lifecycle.get("fulfilled_from"),
        )  # fmt: skip
        if channel == SalesChannel.STORE:
            take_over_pickups(lines=lines, store=store)  # locks: order (the pickups handed over)
        draft.lines = [
            DraftLine(number, line["product"], line["quantity"], line["unit_price"], line.get("reservation") or "")
            for number, line in enumerate(lines, start=1)
        ]
        steps = order_steps()
        if draft.coupon_code and not any(step.name == COUPON_STEP for step in steps):
            raise ValidationError({"coupon_code": [_("Coupons are not available.")]})
        try:
            for step in steps:
                step.prepare(draft)
        except DomainError:
            # The same order sent twice at once: the copy that waited for the customer's (or the stock's)
            # lock finds the last unit or the points taken by the first. That is no refusal but a resend:
            # answer with the order the first recorded (a refusal still stands when there is none).
            existing = Order.objects.filter(source=source, external_ref=external_ref).first()
            if existing is None:
                raise
            return _replay(existing, channel=channel, store=store, customer=customer, lines=lines,
                           redeem_points=redeem_points), False  # fmt: skip
        order = _write_order(draft)
        if order is None:  # a concurrent request recorded this reference first: write nothing more
            existing = Order.objects.get(source=source, external_ref=external_ref)
            return _replay(existing, channel=channel, store=store, customer=customer, lines=lines,
                           redeem_points=redeem_points), False  # fmt: skip
        for step in steps:
            if step.write is not None:
                step.write(draft)
        transaction.on_commit(partial(_announce, order, redeem_points), robust=True)
    order.answer = draft.answer
    logger.info("order recorded order_id=%s channel=%s", order.public_id, channel)
    return order, True


def lock_customer(customer: Customer) -> Customer:
    """The customer locked for the rest of the transaction; a merged id gives its survivor, locked.
    A merge locks both customers too, so it waits for this order (and moves it) or went first.

    FOR NO KEY UPDATE, not FOR UPDATE: orders of one customer still queue here, but a row inserted
    elsewhere that references this customer (its FOREIGN KEY check takes FOR KEY SHARE) does not wait
    for the order. With FOR UPDATE, a writer that had locked the point account first and then inserted
    such a row deadlocked with an order waiting for that account (seen in bench/serve.py)."""
    while True:
        merged_into = (
            Customer.objects.select_for_update(of=("self",), no_key=True)
            .filter(pk=customer.pk)
            .values_list("merged_into_id", flat=True)
            .first()
        )
        if merged_into is None:
            return customer
        customer = Customer.objects.select_related("home_store").get(pk=merged_into)


def _write_order(draft: OrderDraft) -> Order | None:
    """Insert the order row once with its final values, and its lines; None when the reference is
    taken (a concurrent duplicate that committed first: the insert waits for it, then does nothing)."""
    order = Order(
        public_id=draft.public_id, source=draft.source, external_ref=draft.external_ref, channel=draft.channel,
        store=draft.store, customer=draft.customer, ordered_at=draft.ordered_at, subtotal=draft.subtotal,
        points_redeemed=draft.redeem_points, discount=draft.discount, total=draft.total,
        points_earned=draft.points_earned,
        **{**draft.lifecycle, "fulfilled_from": draft.fulfilled_from},
    )  # fmt: skip
    meta = Order._meta
    rows = Order.objects._insert(
        [order], fields=[f for f in meta.local_concrete_fields if f is not meta.pk],
        returning_fields=[meta.pk], using="default", on_conflict=OnConflict.IGNORE,
    )  # fmt: skip
    if not rows or rows[0] is None:  # no row came back: the reference was taken
        return None
    order.pk = rows[0][0]
    order._state.adding, order._state.db = False, "default"
    order_lines = OrderLine.objects.bulk_create(
        OrderLine(order=order, line_number=line.line_number, product=line.product, sku=line.product.sku,
                  quantity=line.quantity, unit_price=line.unit_price, amount=line.amount,
                  reservation=line.reservation)
        for line in draft.lines
    )  # fmt: skip
    # as prefetch_related leaves them: `order.lines.all()` (the answer, receivers) reads no rows again
    lines_qs = order.lines.all()
    lines_qs._result_cache, lines_qs._prefetch_done = order_lines, True
    order._prefetched_objects_cache = {"lines": lines_qs}
    draft.order = order
    return order


def _replay(existing: Order, *, channel, store, customer, lines, redeem_points) -> Order:
    """The original order for a resend of the same content; ReferenceConflict for other content."""
    sent = [(line["product"].pk, line["quantity"], line["unit_price"]) for line in lines]
    recorded = list(existing.lines.order_by("line_number").values_list("product_id", "quantity", "unit_price"))
    customer_id = None
    if customer is not None:
        survivor = get_customer(customer.public_id)
        customer_id = survivor.pk if survivor is not None else customer.pk
    differs = {
        "lines": recorded != sent,
        "customer": existing.customer_id != customer_id,
        "channel": existing.channel != channel,
        "store": existing.store_id != store.pk,
        "redeem_points": existing.points_redeemed != redeem_points,
    }
    if any(differs.values()):
        message = _("Order %(order)s was recorded with this reference and another %(field)s.")
        raise ReferenceConflict(
            _("Order %(order)s was recorded with this source and external_ref and other content.")
            % {"order": existing.public_id},
            errors={name: [message % {"order": existing.public_id, "field": name}]
                    for name, changed in differs.items() if changed},
        )  # fmt: skip
    return existing


def mark_orders_assisted(*, customer_id: int, store_id: int, since: datetime, until: datetime) -> int:
    """Inventory records here that a try-on at a store led to the customer's orders in a window (for
    the insights KPI); an order already marked keeps its store. Returns how many were marked."""
    return Order.objects.filter(
        customer_id=customer_id, assisted_by__isnull=True, ordered_at__gte=since, ordered_at__lte=until
    ).update(assisted_by_id=store_id)


def _announce(order: Order, redeem_points: int) -> None:
    """After commit: tell other apps (purchase summary, metrics, mails). A receiver's fault is logged
    and never refuses or fails the sale, which is already recorded."""
    for receiver, result in order_recorded.send_robust(sender=Order, order=order, redeem_points=redeem_points):
        if isinstance(result, Exception):
            logger.error(
                "order_recorded receiver failed order_id=%s receiver=%s", order.public_id,
                getattr(receiver, "__qualname__", receiver), exc_info=result,
            )  # fmt: skip


def _validate_order(*, channel, store, lines, customer, redeem_points) -> None:
    errors = {}
    if not lines:
        errors["lines"] = [_("An order needs at least one line.")]
    for i, line in enumerate(lines):
        if line["quantity"] <= 0:
            errors[f"lines.{i}.quantity"] = [_("Must be a positive number.")]
        if line["unit_price"] < 0:
            errors[f"lines.{i}.unit_price"] = [_("Must be zero or more.")]
        if not isinstance(line["product"], Product):
            errors[f"lines.{i}.sku"] = [_("Unknown SKU.")]
    if channel == SalesChannel.STORE and store.kind != Store.Kind.STORE:
        errors["store"] = [_("A store sale needs a store, not a warehouse.")]
    if redeem_points < 0:
        errors["redeem_points"] = [_("Must be zero or more.")]
    elif redeem_points and customer is None:
        errors["redeem_points"] = [_("A guest order cannot redeem points.")]
    elif not errors and points_in_yen(redeem_points) > sum(line["quantity"] * line["unit_price"] for line in lines):
        errors["redeem_points"] = [_("Cannot redeem more points than the order's subtotal.")]
    if errors:
        raise ValidationError(errors)


def record_return(*, order: Order, lines: list[dict], reason: str = "", actor=None) -> OrderReturn:
    """Return some units of an order. `lines` are ``{sku, quantity}``; a SKU sold on several lines
    is taken from them in line order. The return steps of crm.registry run inside the transaction
    (points reversed, stock back); `order_returned` is sent after commit."""
    if not lines:
        raise ValidationError({"lines": [_("Name at least one line to return.")]})
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not _returnable(order):
            raise InvalidState(
                _("This order is %(status)s: nothing has been handed over to return; cancel it instead.")
                % {"status": order.get_status_display()},
                status_now=order.status,
            )
        order_lines = list(order.lines.order_by("line_number"))
        by_sku = defaultdict(list)
        for line in order_lines:
            by_sku[line.sku].append(line)
        errors, taken = {}, defaultdict(int)
        for i, wanted in enumerate(lines):
            if wanted["quantity"] <= 0:
                errors[f"lines.{i}.quantity"] = [_("Must be a positive number.")]
                continue
            if wanted["sku"] not in by_sku:
                errors[f"lines.{i}.sku"] = [_("This SKU is not on the order.")]
                continue
            left = wanted["quantity"]
            for line in by_sku[wanted["sku"]]:
                free = line.quantity - line.returned_quantity - taken[line.pk]
                take = min(free, left)
                taken[line.pk] += take
                left -= take
            if left:
                errors[f"lines.{i}.quantity"] = [_("More than was sold and not yet returned.")]
        if errors:
            raise ValidationError(errors)

        lines_by_pk = {line.pk: line for line in order_lines}
        amount = sum(lines_by_pk[pk].unit_price * qty for pk, qty in taken.items() if qty)
        order_return = OrderReturn.objects.create(
            order=order, reason=(reason or "").strip(), amount=amount, actor=actor
        )
        OrderReturnLine.objects.bulk_create(
            OrderReturnLine(
                order_return=order_return,
                order_line=lines_by_pk[pk],
                quantity=qty,
                amount=qty * lines_by_pk[pk].unit_price,
            )
            for pk, qty in taken.items()
            if qty
        )
        for pk, qty in taken.items():
            if qty:
                OrderLine.objects.filter(pk=pk).update(returned_quantity=F("returned_quantity") + qty)
                lines_by_pk[pk].returned_quantity += qty
        fully = all(line.quantity == line.returned_quantity for line in order_lines)
        order.returned_amount += amount
        order.status = Order.Status.RETURNED if fully else Order.Status.PARTIALLY_RETURNED
        order.save(update_fields=["returned_amount", "status"])
        draft = ReturnDraft(
            order=order, order_return=order_return,
            lines=[(line, taken[line.pk]) for line in order_lines if taken[line.pk]],
        )  # fmt: skip
        for step in return_steps():
            step.write(draft)
        transaction.on_commit(partial(_announce_return, order, order_return), robust=True)
    logger.info("order returned order_id=%s return_id=%s", order.public_id, order_return.public_id)
    return order_return


def _announce_return(order: Order, order_return: OrderReturn) -> None:
    for receiver, result in order_returned.send_robust(sender=Order, order=order, order_return=order_return):
        if isinstance(result, Exception):
            logger.error(
                "order_returned receiver failed return_id=%s receiver=%s", order_return.public_id,
                getattr(receiver, "__qualname__", receiver), exc_info=result,
            )  # fmt: skip


def set_orders_points_earned(*, points_by_order: dict[int, int]) -> None:
    """Loyalty records what many orders earned at once (points for bulk-loaded history, the demo):
    {order pk: points}. One statement run for every row (executemany)."""
    if not points_by_order:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Order._meta.db_table} SET points_earned = %s WHERE id = %s",  # noqa: S608  # nosec B608  the model's table
            [(points, pk) for pk, points in points_by_order.items()],
        )
