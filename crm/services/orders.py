import logging
from collections import defaultdict
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from ..exceptions import InvalidState
from ..models import Customer, Order, OrderLine, OrderReturn, OrderReturnLine, Product, SalesChannel, Store
from ..selectors import get_customer
from ..signals import order_recorded, order_returned
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
    fulfilment: dict | None = None,
) -> tuple[Order, bool]:
    """Record a sale from any channel, once: `(source, external_ref)` is unique, so the same order
    sent again (a retry, a concurrent duplicate) returns the original with created=False.

    `lines` are ``{product, quantity, unit_price}``. `order_recorded` is sent inside the
    transaction; loyalty and inventory receivers may refuse the order by raising, and then
    nothing is written.

    `fulfilment` (EC/app only) is ``{type: ship|pickup, store}``: such orders start `placed` and
    follow the lifecycle of services/fulfilment.py; a pickup is held at its store under a code. A
    store sale line may carry `reservation` (held units it hands over).
    """
    existing = Order.objects.filter(source=source, external_ref=external_ref).first()
    if existing is not None:
        return existing, False
    _validate_order(channel=channel, store=store, lines=lines, customer=customer, redeem_points=redeem_points)
    if customer is not None:
        customer = get_customer(customer.public_id)  # an order for a merged id belongs to the survivor
    subtotal = sum(line["quantity"] * line["unit_price"] for line in lines)
    lifecycle = lifecycle_fields(channel=channel, store=store, fulfilment=fulfilment, customer=customer)
    try:
        with transaction.atomic():
            if channel == SalesChannel.STORE:
                take_over_pickups(lines=lines, store=store)
            order = Order.objects.create(
                **lifecycle,
                source=source,
                external_ref=external_ref,
                channel=channel,
                store=store,
                customer=customer,
                ordered_at=ordered_at,
                subtotal=subtotal,
                points_redeemed=redeem_points,
                total=subtotal - redeem_points,
            )
            OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    line_number=number,
                    product=line["product"],
                    sku=line["product"].sku,
                    quantity=line["quantity"],
                    unit_price=line["unit_price"],
                    amount=line["quantity"] * line["unit_price"],
                    reservation=line.get("reservation") or "",
                )
                for number, line in enumerate(lines, start=1)
            )
            order_recorded.send(sender=Order, order=order, redeem_points=redeem_points)
    except IntegrityError:
        # A concurrent request recorded the same (source, external_ref) first: answer with that one.
        existing = Order.objects.filter(source=source, external_ref=external_ref).first()
        if existing is None:
            raise
        return existing, False
    logger.info("order recorded order_id=%s channel=%s", order.public_id, channel)
    return order, True


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
    elif not errors and redeem_points > sum(line["quantity"] * line["unit_price"] for line in lines):
        errors["redeem_points"] = [_("Cannot redeem more points than the order's subtotal.")]
    if errors:
        raise ValidationError(errors)


def record_return(*, order: Order, lines: list[dict], reason: str = "", actor=None) -> OrderReturn:
    """Return some units of an order. `lines` are ``{sku, quantity}``; a SKU sold on several lines
    is taken from them in line order. Sends `order_returned` (stock back, points reversed)."""
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
        fully = all(line.quantity == line.returned_quantity + taken[line.pk] for line in order_lines)
        order.returned_amount += amount
        order.status = Order.Status.RETURNED if fully else Order.Status.PARTIALLY_RETURNED
        order.save(update_fields=["returned_amount", "status"])
        order_returned.send(sender=Order, order=order, order_return=order_return)
    logger.info("order returned order_id=%s return_id=%s", order.public_id, order_return.public_id)
    return order_return


def set_order_points_earned(*, order: Order, points: int) -> None:
    """Loyalty records here what an order earned, so the order shows it."""
    Order.objects.filter(pk=order.pk).update(points_earned=points)
    order.points_earned = points


def set_order_assisted_by(*, order: Order, store: Store) -> None:
    """Inventory records here that a try-on at `store` led to this order (for the insights KPI)."""
    Order.objects.filter(pk=order.pk).update(assisted_by=store)
    order.assisted_by = store


def set_order_fulfillment(*, order: Order, store: Store) -> None:
    """Inventory records here where an EC/app order was finally allocated (ship-from-store)."""
    Order.objects.filter(pk=order.pk).update(fulfilled_from=store)
    order.fulfilled_from = store
