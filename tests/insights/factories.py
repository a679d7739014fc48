"""Planting history for insights: rows as the other apps' services leave them, at chosen times.

Public ids are ULIDs of their creation time (as every service makes them), so a row planted in the
past gets a public id of that time too."""

import datetime as dt
import itertools

from django.utils import timezone
from ulid import ULID

from campaigns.models import Campaign, CampaignRecipient
from channels_hub.models import Message, Ticket
from crm.models import Order, OrderLine, Product
from inventory.models import Reservation, StockLevel
from loyalty.models import PointAccount, PointTransaction
from tests.campaigns.factories import CampaignFactory
from tests.crm.factories import ProductFactory, StoreFactory, WarehouseFactory

_refs = itertools.count(1)


def public_id(prefix: str, at: dt.datetime) -> str:
    return f"{prefix}_{ULID.from_datetime(at)}"


def noon(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def order(customer, *, at, channel="store", total=1000, store=None, products=(), returned=0, status=None):
    """One order (paid `total` yen in money) with one line per product."""
    if store is None:
        store = StoreFactory(code="S-MAIN") if channel == "store" else WarehouseFactory()
    products = list(products) or [ProductFactory(sku="P-ANY")]
    n = next(_refs)
    made = Order.objects.create(
        source="test", external_ref=f"o{n}", channel=channel, store=store, customer=customer, ordered_at=at,
        subtotal=total, total=total, returned_amount=returned,
        status=status or (Order.Status.PARTIALLY_RETURNED if returned else Order.Status.COMPLETED),
        public_id=public_id("ord", at),
    )  # fmt: skip
    share = total // len(products)
    for i, product in enumerate(products, start=1):
        amount = share if i < len(products) else total - share * (len(products) - 1)
        OrderLine.objects.create(order=made, line_number=i, product=product, sku=product.sku, quantity=1,
                                 unit_price=amount, amount=amount)  # fmt: skip
    return made


def ticket(
    *,
    customer=None,
    lead=None,
    at,
    channel="email",
    status="open",
    category="",
    replies=(),
    first_response_after=None,
    csat=None,
    merged_into=None,
):
    """A ticket opened at `at` by one inbound message; `replies` are minutes after `at`."""
    made = Ticket.objects.create(
        customer=customer, lead=lead, first_channel=channel, status=status, category=category,
        last_message_at=at, csat_score=csat, merged_into=merged_into, public_id=public_id("tkt", at),
        first_response_at=at + dt.timedelta(minutes=first_response_after) if first_response_after is not None else None,
    )  # fmt: skip
    Ticket.objects.filter(pk=made.pk).update(created_at=at)
    message(made, at=at, channel=channel, direction="in")
    for minutes in replies:
        message(made, at=at + dt.timedelta(minutes=minutes), channel=channel, direction="out")
    return made


def message(ticket, *, at, channel, direction="in"):
    made = Message.objects.create(
        ticket=ticket, channel=channel, direction=direction, author="customer" if direction == "in" else "agent",
        body="…", sent_at=at, public_id=public_id("msg", at),
    )  # fmt: skip
    Message.objects.filter(pk=made.pk).update(created_at=at)
    return made


def points(customer, *, at, kind, points, channel=""):
    account, _ = PointAccount.objects.get_or_create(customer=customer)
    txn = PointTransaction.objects.create(
        account=account, kind=kind, points=points, channel=channel, public_id=public_id("ptx", at)
    )
    PointTransaction.objects.filter(pk=txn.pk).update(created_at=at)
    return txn


_codes = itertools.count(100000)


def reservation(customer, *, store, kind="pickup", status="fulfilled", closed_at=None, product=None):
    product = product or ProductFactory(sku="P-ANY")
    now = timezone.now()
    return Reservation.objects.create(
        kind=kind, status=status, customer=customer, store=store, product=product, quantity=1,
        pickup_code=str(next(_codes)), expires_at=now + dt.timedelta(days=3), closed_at=closed_at,
        slot_start=now if kind == "try_on" else None,
    )  # fmt: skip


def mailed(campaign: Campaign, customer, *, at, state=CampaignRecipient.State.SENT):
    return CampaignRecipient.objects.create(
        campaign=campaign, customer=customer, email=customer.email, state=state,
        sent_at=at if state == CampaignRecipient.State.SENT else None,
    )  # fmt: skip


def sent_campaign(*, started_at, finished_at):
    return CampaignFactory(status=Campaign.Status.SENT, started_at=started_at, sent_at=finished_at)


def in_stock(product: Product, store, quantity: int = 5) -> StockLevel:
    level, _ = StockLevel.objects.update_or_create(store=store, product=product,
                                                   defaults={"on_hand": quantity, "reserved": 0})  # fmt: skip
    return level
