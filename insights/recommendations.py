"""Reads of the recommendation tables: what to suggest to a customer (or to a whole batch of mail
recipients at once), and what is bought together with a product.

Only products that can be sold now are suggested: active, and with units available (on hand less
reserved) at the store asked for, or — online — at any active location, since the EC warehouse ships
and a store that holds a product can ship it too (inventory's ship-from-store).
"""

import math
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from crm.models import Customer, Order, OrderLine, Product, Store
from inventory.models import StockLevel

from .conf import setting
from .models import PopularProduct, ProductAffinity

MAX_LIMIT = 50
BOUGHT_TOGETHER = "bought_together"
POPULAR_NEARBY = "popular_nearby"


@dataclass(frozen=True)
class Suggestion:
    product: Product
    score: float
    reason: str  # bought_together | popular_nearby


def in_stock(*, store: Store | None = None):
    """An Exists() for Product querysets: units available at `store`, or online (any active location)."""
    levels = StockLevel.objects.filter(product=OuterRef("pk"), on_hand__gt=F("reserved"), store__active=True)
    if store is not None:
        levels = levels.filter(store=store)
    return Exists(levels)


def sellable_products(ids, *, store: Store | None = None) -> dict[int, Product]:
    if not ids:
        return {}
    return {p.pk: p for p in Product.objects.filter(pk__in=set(ids), active=True).filter(in_stock(store=store))}


def _recency_weight(last: datetime, now: datetime) -> float:
    age_days = max((now - last).total_seconds() / 86400, 0.0)
    return math.pow(0.5, age_days / setting("INSIGHTS_RECENCY_HALF_LIFE_DAYS"))


def recommend_for_customers(
    customers: list[Customer], *, limit: int = 10, store: Store | None = None, now: datetime | None = None
) -> dict[int, list[Suggestion]]:
    """Suggestions for each customer, best first, in five queries whatever the number of customers:
    products bought together with theirs (each of their purchases weighted by how recent it is), never
    one they already bought, then best sellers among customers of their prefecture (and everywhere)."""
    now = now or timezone.now()
    ids = [c.pk for c in customers]
    if not ids:
        return {}
    owned: dict[int, dict[int, datetime]] = {pk: {} for pk in ids}
    # Orders first, then their lines, each by its own index: joined in one statement, the planner may
    # choose to scan every order line when a few customers have bought a lot.
    orders = {
        pk: (customer_id, at)
        for pk, customer_id, at in Order.objects.filter(customer_id__in=ids).values_list(
            "pk", "customer_id", "ordered_at"
        )
    }
    for order_id, product_id in OrderLine.objects.filter(order_id__in=list(orders)).values_list(
        "order_id", "product_id"
    ):
        customer_id, at = orders[order_id]
        mine = owned[customer_id]
        if product_id not in mine or mine[product_id] < at:
            mine[product_id] = at
    bought = {p for products in owned.values() for p in products}
    neighbours: dict[int, list[tuple[int, float]]] = {}
    for product_id, other_id, score in ProductAffinity.objects.filter(product_id__in=bought).values_list(
        "product_id", "other_id", "score"
    ):
        neighbours.setdefault(product_id, []).append((other_id, score))
    scored: dict[int, dict[int, float]] = {}
    for customer_id, products in owned.items():
        totals: dict[int, float] = {}
        for product_id, last in products.items():
            weight = _recency_weight(last, now)
            for other_id, score in neighbours.get(product_id, ()):
                if other_id not in products:
                    totals[other_id] = totals.get(other_id, 0.0) + score * weight
        scored[customer_id] = totals
    prefectures = {c.prefecture for c in customers} | {""}
    popular: dict[str, list[tuple[int, int]]] = {}
    for prefecture, product_id, buyers in (
        PopularProduct.objects.filter(prefecture__in=prefectures)
        .order_by("prefecture", "rank")
        .values_list("prefecture", "product_id", "buyers")
    ):
        popular.setdefault(prefecture, []).append((product_id, buyers))
    candidates = {p for totals in scored.values() for p in totals}
    candidates |= {p for rows in popular.values() for p, _ in rows}
    products = sellable_products(candidates, store=store)
    out = {}
    for customer in customers:
        mine, totals = owned[customer.pk], scored[customer.pk]
        ranked = sorted(
            ((score, pk) for pk, score in totals.items() if pk in products), key=lambda item: (-item[0], item[1])
        )
        picks = [Suggestion(products[pk], round(score, 6), BOUGHT_TOGETHER) for score, pk in ranked[:limit]]
        chosen = {s.product.pk for s in picks}
        for prefecture in dict.fromkeys([customer.prefecture, ""]):
            for pk, buyers in popular.get(prefecture, ()):
                if len(picks) >= limit:
                    break
                if pk in products and pk not in mine and pk not in chosen:
                    picks.append(Suggestion(products[pk], float(buyers), POPULAR_NEARBY))
                    chosen.add(pk)
        out[customer.pk] = picks
    return out


def recommended_products(
    *, customer: Customer, limit: int = 10, store: Store | None = None, now: datetime | None = None
) -> list[Suggestion]:
    return recommend_for_customers([customer], limit=limit, store=store, now=now)[customer.pk]


def bought_together(*, product: Product, limit: int = 10) -> list[Suggestion]:
    """Products most often bought by the customers who bought this one (any channel), that can be
    sold online now. One query."""
    rows = (
        ProductAffinity.objects.filter(product=product)
        .filter(Exists(Product.objects.filter(pk=OuterRef("other_id"), active=True).filter(in_stock())))
        .order_by("-score", "other_id")
        .values_list("other_id", "score")[:limit]
    )
    rows = list(rows)
    products = Product.objects.in_bulk([pk for pk, _ in rows])
    return [Suggestion(products[pk], round(score, 6), BOUGHT_TOGETHER) for pk, score in rows if pk in products]


def popular_products(*, prefecture: str = "") -> QuerySet[PopularProduct]:
    return PopularProduct.objects.filter(prefecture=prefecture).select_related("product").order_by("rank")
