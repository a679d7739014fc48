"""Reads of inventory that pages, endpoints, the 360 panel and the timeline reuse."""

import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.models import Customer, Product, Store
from crm.registry import TimelineEntry

from .models import Discrepancy, Reservation, StockLevel, StockMovement, Transfer
from .services.tryon import HOLDS_A_PLACE, Slot, slot_starts, try_on_settings


@dataclass(frozen=True)
class Availability:
    store: str
    store_name: str
    kind: str
    prefecture: str
    available: int


def availability(*, sku: str, prefecture: str = "") -> list[Availability] | None:
    """Available units of the product with this SKU at every active location (zero where nothing is
    stocked): the EC warehouse first and always, then the stores (of `prefecture` only, when given) by
    code. None for an unknown SKU.

    One hand-written statement, product lookup included: this answers every product page of an EC site
    (`GET /api/v1/inventory/availability/`), and the ORM spent more CPU compiling the two queries it
    took than PostgreSQL spent running them (bench/serve.py). The LEFT JOIN from the product keeps a
    known SKU apart from an unknown one when no location is active."""
    with connection.cursor() as cursor:
        cursor.execute(
            _AVAILABILITY_SQL, {"sku": sku, "prefecture": prefecture or "", "warehouse": Store.Kind.WAREHOUSE}
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    return [Availability(*row) for row in rows if row[0] is not None]


_AVAILABILITY_SQL = f"""
    SELECT s.code, s.name, s.kind, s.prefecture, COALESCE(l.on_hand - l.reserved, 0)
    FROM {Product._meta.db_table} p
    LEFT JOIN {Store._meta.db_table} s
        ON s.active AND (%(prefecture)s = '' OR s.prefecture = %(prefecture)s OR s.kind = %(warehouse)s)
    LEFT JOIN {StockLevel._meta.db_table} l ON l.store_id = s.id AND l.product_id = p.id
    WHERE p.sku = %(sku)s
    ORDER BY s.kind DESC, s.code
"""  # noqa: S608  # nosec B608  model tables only; every value is a parameter


def stock_at(*, store: Store, products: list[Product]) -> dict[int, StockLevel]:
    return {lvl.product_id: lvl for lvl in StockLevel.objects.filter(store=store, product__in=products)}


def nearby_stock(*, store: Store, products: list[Product]) -> list[dict]:
    """Stock of these products in the other stores of the same prefecture and at the EC warehouse."""
    levels = (
        StockLevel.objects.filter(product__in=products, store__active=True)
        .filter(
            Q(store__prefecture=store.prefecture, store__kind=Store.Kind.STORE) | Q(store__kind=Store.Kind.WAREHOUSE)
        )
        .exclude(store=store)
        .select_related("store")
        .order_by("store__kind", "store__code")
    )
    return list(levels)


def product_search(*, query: str, limit: int = 20) -> list[Product]:
    query = (query or "").strip()
    if not query:
        return []
    exact = Product.objects.filter(sku=query)
    if exact.exists():
        return list(exact)
    return list(Product.objects.filter(Q(sku__istartswith=query) | Q(name__icontains=query)).order_by("sku")[:limit])


def product_for_typed(typed: str) -> tuple[Product | None, list[Product]]:
    """The product staff mean by what they typed in a SKU field: the SKU in any case or width, else
    the one product whose SKU starts with it or whose name contains it. Returns (product, candidates)."""
    text = unicodedata.normalize("NFKC", typed or "").strip()
    if not text:
        return None, []
    # SKUs are stored as the PIM sends them (usually upper case): two indexed probes before a scan.
    exact = Product.objects.filter(sku__in={text, text.upper()}).order_by("pk").first()
    if exact is not None:
        return exact, [exact]
    candidates = product_search(query=text, limit=6)
    return (candidates[0] if len(candidates) == 1 else None), candidates


def transfers_for_store(*, store: Store, limit: int = 100) -> dict[str, list[Transfer]]:
    """In-transit transfers into and out of a store, and the latest received ones."""
    base = Transfer.objects.select_related("from_store", "to_store", "product", "shipped_by", "received_by")
    return {
        "incoming": list(base.filter(to_store=store, status=Transfer.Status.IN_TRANSIT).order_by("shipped_at")[:limit]),
        "outgoing": list(
            base.filter(from_store=store, status=Transfer.Status.IN_TRANSIT).order_by("shipped_at")[:limit]
        ),
        "received": list(
            base.filter(Q(to_store=store) | Q(from_store=store), status=Transfer.Status.RECEIVED).order_by(
                "-received_at"
            )[:20]
        ),
    }


def reservations_for_store_day(*, store: Store, day=None) -> QuerySet[Reservation]:
    """What the store has to hand over today: every active pickup and hold (soonest expiry first), and
    the try-ons booked for today."""
    day = day or timezone.localdate()
    start = timezone.make_aware(datetime.combine(day, time.min))
    end = start + timedelta(days=1)
    return (
        Reservation.objects.filter(store=store, status=Reservation.Status.ACTIVE, order__isnull=True)
        .filter(
            Q(kind__in=[Reservation.Kind.PICKUP, Reservation.Kind.HOLD])
            | Q(kind=Reservation.Kind.TRY_ON, slot_start__gte=start, slot_start__lt=end)
        )
        .select_related("customer", "product")
        .order_by("kind", Coalesce("slot_start", "expires_at"), "pk")
    )


def try_ons_for_store_day(*, store: Store, day=None) -> QuerySet[Reservation]:
    day = day or timezone.localdate()
    start = timezone.make_aware(datetime.combine(day, time.min))
    return (
        Reservation.objects.filter(
            store=store, kind=Reservation.Kind.TRY_ON, slot_start__gte=start, slot_start__lt=start + timedelta(days=1)
        )
        .exclude(status=Reservation.Status.CANCELLED)
        .select_related("customer", "product")
        .order_by("slot_start", "pk")
    )


def customer_reservations(*, customer: Customer, limit: int = 20) -> QuerySet[Reservation]:
    return (
        Reservation.objects.filter(customer=customer)
        .select_related("store", "product")
        .order_by("-created_at", "-pk")[:limit]
    )


def open_discrepancies(*, store: Store | None = None) -> QuerySet[Discrepancy]:
    qs = Discrepancy.objects.filter(status=Discrepancy.Status.OPEN).select_related("store", "product")
    if store is not None:
        qs = qs.filter(store=store)
    return qs.order_by("-created_at", "-pk")


def reservation_timeline(*, customer: Customer, limit: int, before=None) -> list[TimelineEntry]:
    qs = Reservation.objects.filter(customer=customer).select_related("store", "product")
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    return [
        TimelineEntry(
            at=r.created_at, kind="reservation", id=r.public_id, channel="",
            title=f"{r.get_kind_display()} {r.store.name} {r.product.sku} × {r.quantity} ({r.get_status_display()})",
            detail={"kind": r.kind, "status": r.status, "store": r.store.code, "sku": r.product.sku,
                    "quantity": r.quantity, "expires_at": r.expires_at.isoformat()},
        )
        for r in qs.order_by("-created_at")[:limit]
    ]  # fmt: skip


@dataclass(frozen=True)
class StockMismatch:
    store_id: int
    product_id: int
    on_hand: int
    reserved: int
    ledger_on_hand: int
    ledger_reserved: int
    reserved_by_reservations: int


def stock_mismatches() -> list[StockMismatch]:
    """Every (location, product) whose cached level differs from the sum of its movements, or whose
    reserved units differ from its active reservations. One set-based query; empty means consistent."""
    level = connection.ops.quote_name(StockLevel._meta.db_table)
    movement = connection.ops.quote_name(StockMovement._meta.db_table)
    reservation = connection.ops.quote_name(Reservation._meta.db_table)
    sql = f"""
        WITH ledger AS (
            SELECT store_id, product_id, SUM(on_hand_delta) AS on_hand, SUM(reserved_delta) AS reserved
            FROM {movement} GROUP BY store_id, product_id
        ), held AS (
            SELECT store_id, product_id, SUM(quantity) AS reserved
            FROM {reservation} WHERE status = 'active' GROUP BY store_id, product_id
        ), keys AS (
            SELECT store_id, product_id FROM {level}
            UNION SELECT store_id, product_id FROM ledger
            UNION SELECT store_id, product_id FROM held
        )
        SELECT k.store_id, k.product_id, COALESCE(l.on_hand, 0), COALESCE(l.reserved, 0),
               COALESCE(m.on_hand, 0), COALESCE(m.reserved, 0), COALESCE(h.reserved, 0)
        FROM keys k
        LEFT JOIN {level} l ON l.store_id = k.store_id AND l.product_id = k.product_id
        LEFT JOIN ledger m ON m.store_id = k.store_id AND m.product_id = k.product_id
        LEFT JOIN held h ON h.store_id = k.store_id AND h.product_id = k.product_id
        WHERE COALESCE(l.on_hand, 0) <> COALESCE(m.on_hand, 0)
           OR COALESCE(l.reserved, 0) <> COALESCE(m.reserved, 0)
           OR COALESCE(l.reserved, 0) <> COALESCE(h.reserved, 0)
        ORDER BY k.store_id, k.product_id
    """  # noqa: S608 - table names come from the models, nothing from the outside
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [StockMismatch(*(int(v) for v in row)) for row in cursor.fetchall()]


def try_on_slots(*, store: Store, day) -> list[Slot]:
    """The store's try-on slots on a local day with the places left; a slot already begun has none."""
    starts = slot_starts(store, day)
    if not starts:
        return []
    minutes, capacity = try_on_settings(store)
    booked = dict(
        Reservation.objects.filter(
            store=store, kind=Reservation.Kind.TRY_ON, status__in=HOLDS_A_PLACE, slot_start__in=starts
        )
        .values_list("slot_start")
        .annotate(n=Count("pk"))
    )
    now = timezone.now()
    return [
        Slot(start=start, end=start + timedelta(minutes=minutes),
             free=0 if start <= now else max(capacity - booked.get(start, 0), 0))
        for start in starts
    ]  # fmt: skip
