"""Transfers between locations: shipped out of one (in transit, off its stock), received into the other."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Product, Store

from ..exceptions import OutOfStock
from ..models import StockMovement, Transfer
from .stock import Move, locked_levels, record_movements

logger = logging.getLogger(__name__)


def ship_transfer(
    *, from_store: Store, to_store: Store, product: Product, quantity: int, note: str = "", actor=None
) -> Transfer:
    errors = {}
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        errors["quantity"] = [_("Must be a positive whole number.")]
    if from_store.pk == to_store.pk:
        errors["to_store"] = [_("Choose another location than the one shipping.")]
    if not to_store.active:
        errors["to_store"] = [_("This location is closed.")]
    if errors:
        raise ValidationError(errors)
    pair = (from_store.pk, product.pk)
    with transaction.atomic():
        levels = locked_levels([pair])
        available = levels[pair].available
        if available < quantity:
            raise OutOfStock(
                _("Only %(available)d available to ship.") % {"available": max(available, 0)},
                errors={"quantity": [_("Only %(available)d available.") % {"available": max(available, 0)}]},
            )
        transfer = Transfer.objects.create(
            from_store=from_store, to_store=to_store, product=product, quantity=quantity,
            note=(note or "").strip()[:255], shipped_by=actor,
        )  # fmt: skip
        record_movements(
            levels,
            [Move(*pair, StockMovement.Kind.TRANSFER_OUT, on_hand=-quantity, reference=transfer.public_id,
                  key=f"{transfer.public_id}:out")],
            actor=actor,
        )  # fmt: skip
    logger.info("transfer shipped transfer_id=%s", transfer.public_id)
    return transfer


def receive_transfer(*, transfer: Transfer, actor=None) -> Transfer:
    """The goods arrived. Receiving twice is a no-op."""
    with transaction.atomic():
        transfer = Transfer.objects.select_for_update().get(pk=transfer.pk)
        if transfer.status == Transfer.Status.RECEIVED:
            return transfer
        pair = (transfer.to_store_id, transfer.product_id)
        levels = locked_levels([pair])
        record_movements(
            levels,
            [Move(*pair, StockMovement.Kind.TRANSFER_IN, on_hand=transfer.quantity, reference=transfer.public_id,
                  key=f"{transfer.public_id}:in")],
            actor=actor,
        )  # fmt: skip
        transfer.status = Transfer.Status.RECEIVED
        transfer.received_by = actor
        transfer.received_at = timezone.now()
        transfer.save(update_fields=["status", "received_by", "received_at"])
    logger.info("transfer received transfer_id=%s", transfer.public_id)
    return transfer
