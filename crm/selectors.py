"""Reads of the crm core that pages, endpoints and other apps reuse."""

import re
import unicodedata
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from .caching import ConfigCache
from .models import ChannelIdentity, Customer, CustomerMerge, Order, OrderLine, OrderReturn, Store
from .normalize import normalize_kana, normalize_name, parse_phone
from .registry import TimelineEntry

_KATAKANA = re.compile(r"^[\u30a1-\u30fc]+$")
_DIGITS = re.compile(r"^\d{4,20}$")
# Substring matches (a given name typed alone) from three characters on: below that a trigram
# index cannot help on PostgreSQL, and the same rule keeps SQLite's results identical.
_SUBSTRING_MIN = 3


def active_customers() -> QuerySet[Customer]:
    return Customer.objects.filter(merged_into__isnull=True)


def _load_stores() -> dict[str, Store]:
    return {store.code: store for store in Store.objects.order_by("pk")}


# Stores and warehouses: named by every order, edited rarely in the admin. One per-process copy,
# dropped in every process when a store is saved (crm.caching).
stores: ConfigCache[dict[str, Store]] = ConfigCache("crm.stores", _load_stores, models=[Store])


def active_store(code: str) -> Store | None:
    store = stores.get().get(code)
    return store if store is not None and store.active else None


def ec_warehouse() -> Store | None:
    """The location EC/app orders ship from when they name none: the first active warehouse."""
    return next((s for s in stores.get().values() if s.kind == Store.Kind.WAREHOUSE and s.active), None)


def get_customer(public_id: str) -> Customer | None:
    """The customer with this public id; for a merged id, the surviving customer."""
    customer = Customer.objects.select_related("home_store").filter(public_id=public_id).first()
    return _survivor(customer)


def customer_by_member_number(member_number: str) -> Customer | None:
    """The member holding this card number; an old card of a merged member gives the survivor."""
    customer = Customer.objects.filter(member_number=(member_number or "").strip()).first()
    return _survivor(customer)


def _survivor(customer: Customer | None) -> Customer | None:
    # merge_customers re-points chains to the final survivor, so this loop takes one step at most.
    while customer is not None and customer.merged_into_id is not None:
        customer = Customer.objects.select_related("home_store").get(pk=customer.merged_into_id)
    return customer


def resolve_customer(*, channel: str, external_id: str) -> Customer | None:
    """Who is this EC/app/LINE user? None if the account is not linked to anyone."""
    identity = (
        ChannelIdentity.objects.select_related("customer__home_store")
        .filter(channel=channel, external_id=external_id)
        .first()
    )
    return _survivor(identity.customer) if identity else None


def customers_by_contact(*, email: str = "", phone: str = "") -> QuerySet[Customer]:
    """Active customers with this (already normalised) email or phone, newest first."""
    condition = Q()
    if email:
        condition |= Q(email=email)
    if phone:
        condition |= Q(phone=phone)
    if not condition:
        return Customer.objects.none()
    return active_customers().filter(condition).order_by("-created_at")


def search_condition(query: str) -> Q:
    """What one search box means: member number, phone in any format, email, name or kana prefix."""
    text = unicodedata.normalize("NFKC", query).strip()
    compact = re.sub(r"\s+", "", text)
    condition = Q(member_number=compact)
    if "@" in compact:
        condition |= Q(email__startswith=compact.lower())
        return condition
    phone = parse_phone(text)
    if phone:  # something that parses as a phone number is not a name
        return condition | Q(phone=phone)
    if _DIGITS.match(compact):
        condition |= Q(member_number__startswith=compact)
        return condition
    kana = normalize_kana(text)
    if kana and _KATAKANA.match(kana):
        condition |= Q(search_kana__startswith=kana) | Q(given_name_kana__startswith=kana)
        if len(kana) >= _SUBSTRING_MIN:
            condition |= Q(search_kana__contains=kana)
    name = normalize_name(text)
    if name:
        condition |= Q(search_name__startswith=name)
        if len(name) >= _SUBSTRING_MIN:
            condition |= Q(search_name__contains=name)
    return condition


def customer_search(
    *, query: str = "", phone: str = "", email: str = "", member_number: str = ""
) -> QuerySet[Customer]:
    """Active customers matching every criterion given. Ordered by kana for people reading a list;
    the API re-orders by public id for its cursor."""
    qs = active_customers().select_related("home_store")
    if phone:
        normalised = parse_phone(phone)
        qs = qs.filter(phone=normalised) if normalised else qs.none()
    if email:
        qs = qs.filter(email=email.strip().lower())
    if member_number:
        qs = qs.filter(member_number=member_number.strip())
    if query and query.strip():
        qs = qs.filter(search_condition(query))
    return qs.order_by("search_kana", "pk")


def customer_with_identities(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    return queryset.select_related("home_store").prefetch_related(
        Prefetch("identities", queryset=ChannelIdentity.objects.order_by("channel", "external_id"))
    )


@dataclass(frozen=True)
class DuplicateGroup:
    kind: str  # "email" or "phone"
    value: str
    customers: list[Customer]


def duplicate_groups(*, limit: int = 50) -> list[DuplicateGroup]:
    """Active customers who share a normalised email or phone: likely one person twice."""
    groups = []
    for kind in ("email", "phone"):
        values = (
            active_customers()
            .exclude(**{kind: ""})
            .values(kind)
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .order_by("-n", kind)
            .values_list(kind, flat=True)[:limit]
        )
        values = list(values)
        if not values:
            continue
        members = active_customers().filter(**{f"{kind}__in": values}).select_related("home_store").order_by("pk")
        by_value: dict[str, list[Customer]] = {}
        for customer in members:
            by_value.setdefault(getattr(customer, kind), []).append(customer)
        groups += [DuplicateGroup(kind, value, by_value[value]) for value in values if value in by_value]
    return groups[:limit]


def duplicates_of(customer: Customer) -> QuerySet[Customer]:
    condition = Q()
    if customer.email:
        condition |= Q(email=customer.email)
    if customer.phone:
        condition |= Q(phone=customer.phone)
    if not condition:
        return Customer.objects.none()
    return active_customers().filter(condition).exclude(pk=customer.pk).order_by("pk")


def customer_orders(*, customer: Customer, limit: int = 20) -> QuerySet[Order]:
    return (
        Order.objects.filter(customer=customer)
        .select_related("store", "fulfilled_from")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.select_related("product")))
        .order_by("-ordered_at", "-pk")[:limit]
    )


def customer_merges(*, customer: Customer) -> QuerySet[CustomerMerge]:
    """Merges into this customer, including earlier ones into customers it later absorbed."""
    return (
        CustomerMerge.objects.filter(Q(winner=customer) | Q(winner__merged_into=customer))
        .select_related("winner", "loser", "actor")
        .order_by("-created_at")
    )


def order_with_lines(queryset: QuerySet[Order] | None = None) -> QuerySet[Order]:
    queryset = Order.objects.all() if queryset is None else queryset
    return queryset.select_related("store", "fulfilled_from", "customer").prefetch_related("lines")


def order_timeline(*, customer: Customer, limit: int, before=None) -> list[TimelineEntry]:
    orders = Order.objects.filter(customer=customer).select_related("store")
    returns = OrderReturn.objects.filter(order__customer=customer).select_related("order")
    if before is not None:
        orders = orders.filter(ordered_at__lt=before)
        returns = returns.filter(created_at__lt=before)
    entries = [
        TimelineEntry(
            at=o.ordered_at, kind="order", id=o.public_id, channel=o.channel,
            title=f"{o.get_channel_display()} {o.store.name} ¥{o.total:,}",
            detail={"total": o.total, "store": o.store.code, "status": o.status, "points_redeemed": o.points_redeemed},
        )
        for o in orders.order_by("-ordered_at")[:limit]
    ]  # fmt: skip
    entries += [
        TimelineEntry(
            at=r.created_at, kind="return", id=r.public_id, channel=r.order.channel,
            title=f"{r.order.public_id} ¥{r.amount:,}", detail={"order": r.order.public_id, "amount": r.amount},
        )
        for r in returns.order_by("-created_at")[:limit]
    ]  # fmt: skip
    return entries
