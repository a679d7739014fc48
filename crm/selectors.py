"""Reads of the crm core that pages, endpoints and other apps reuse."""

import re
import unicodedata
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce

from .caching import ConfigCache
from .ids import luhn_check_digit
from .models import ChannelIdentity, Customer, CustomerMerge, Order, OrderLine, OrderReturn, Store
from .normalize import normalize_kana, normalize_name, parse_phone
from .registry import TimelineEntry

_KATAKANA = re.compile(r"^[\u30a1-\u30fc]+$")
_DIGITS = re.compile(r"^\d{4,20}$")
# Substring matches (a given name typed alone) from three characters on: below that a trigram
# index cannot help on PostgreSQL, and the same rule keeps SQLite's results identical.
_SUBSTRING_MIN = 3


def active_customers() -> QuerySet[Customer]:
    """Neither merged away nor erased: an erased person is found by no search."""
    return Customer.objects.filter(merged_into__isnull=True, erased_at__isnull=True)


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
    return _one_customer(_BY_PUBLIC_ID, [public_id])


def customer_by_member_number(member_number: str) -> Customer | None:
    """The member holding this card number; an old card of a merged member gives the survivor."""
    return _one_customer(_BY_MEMBER_NUMBER, [(member_number or "").strip()])


def resolve_customer(*, channel: str, external_id: str) -> Customer | None:
    """Who is this EC/app/LINE user? None if the account is not linked to anyone."""
    return _one_customer(_BY_IDENTITY, [channel, external_id])


def _one_customer(owner_sql: str, params: list) -> Customer | None:
    """The customer a unique key names, or its survivor when that record was merged (merge_customers
    re-points chains to the final survivor, so one step is enough), with its home store from the
    per-process store cache. One hand-written statement: these lookups start every API read of a
    customer (resolve, detail, balance, orders), and the ORM spent more CPU compiling the query with
    its joins than PostgreSQL spent running it (bench/serve.py)."""
    sql = f"SELECT c.* FROM {Customer._meta.db_table} c WHERE c.id = ({owner_sql} ORDER BY k.id LIMIT 1)"  # noqa: S608  # nosec B608
    customer = next(iter(Customer.objects.raw(sql, params)), None)
    if customer is not None and customer.home_store_id is not None:
        store = next((s for s in stores.get().values() if s.pk == customer.home_store_id), None)
        if store is not None:
            Customer.home_store.field.set_cached_value(customer, store)
    return customer


# The id of the record a key names, or of its survivor; `k` is that record. Model tables only; every
# value is a parameter.
_CUSTOMER_TABLE = Customer._meta.db_table
_BY_PUBLIC_ID = f"SELECT COALESCE(k.merged_into_id, k.id) FROM {_CUSTOMER_TABLE} k WHERE k.public_id = %s"  # noqa: S608  # nosec B608
_BY_MEMBER_NUMBER = f"SELECT COALESCE(k.merged_into_id, k.id) FROM {_CUSTOMER_TABLE} k WHERE k.member_number = %s"  # noqa: S608  # nosec B608
_BY_IDENTITY = (
    f"SELECT COALESCE(k.merged_into_id, k.id) FROM {ChannelIdentity._meta.db_table} i "  # noqa: S608  # nosec B608
    f"JOIN {_CUSTOMER_TABLE} k ON k.id = i.customer_id WHERE i.channel = %s AND i.external_id = %s"
)


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
    card = re.sub(r"[\s-]+", "", text)
    if card != compact and card.isdigit():  # a card number typed in groups: 1234-5678-9012
        condition |= Q(member_number=card)
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


_CARD = re.compile(r"^[0-9A-Za-z-]{4,20}$")  # crm.services.customers.MEMBER_NUMBER_RE
_PUBLIC_ID = re.compile(r"^(cus|ord)_[0-9A-Za-z]{1,40}$")
# An account id of the EC site, the app or LINE, or an order number of the EC site or a POS.
_EXTERNAL_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:-]{2,127}$")


def _owner_ids(condition: Q) -> QuerySet:
    """Ids of the active customers behind the records matching `condition`: the record itself, or
    the survivor it was merged into (merge_customers keeps the loser's row with its card, phone and
    email, pointing at the final survivor). One indexed subquery, used as `pk IN (…)`."""
    return Customer.objects.filter(condition).annotate(owner=Coalesce("merged_into_id", "id")).values("owner")


def old_contact_condition(query: str) -> Q | None:
    """The exact card number, phone or email typed, as held by records merged away."""
    text = unicodedata.normalize("NFKC", query).strip()
    compact = re.sub(r"\s+", "", text)
    if not compact:
        return None
    if "@" in compact:
        return Q(email=compact.lower())
    card = re.sub(r"[\s-]+", "", text)
    card = card if card.isdigit() else compact
    condition = Q(member_number=card) if _CARD.match(card) else Q()
    phone = parse_phone(text)
    if phone:
        condition |= Q(phone=phone)
    return condition or None


def id_owner_queries(query: str) -> list[QuerySet]:
    """Subqueries of the customer behind a customer id (cus_…, a merged one too), an order id
    (ord_…), or an EC/app/LINE account id or an EC/POS order number, matched exactly."""
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", query))
    if _PUBLIC_ID.match(compact):
        if compact.startswith("cus_"):
            return [_owner_ids(Q(public_id=compact))]
        return [Order.objects.filter(public_id=compact, customer__isnull=False).values("customer_id")]
    if _EXTERNAL_ID.match(compact) and "@" not in compact:
        return [
            ChannelIdentity.objects.filter(external_id=compact).values("customer_id"),
            Order.objects.filter(external_ref=compact, customer__isnull=False).values("customer_id"),
        ]
    return []


def customer_search(
    *, query: str = "", phone: str = "", email: str = "", member_number: str = ""
) -> QuerySet[Customer]:
    """Active customers matching every criterion given; a merged record's card, phone or email finds
    the survivor. Ordered by kana for people reading a list; the API re-orders by public id."""
    qs = active_customers().select_related("home_store")
    if phone:
        normalised = parse_phone(phone)
        qs = qs.filter(pk__in=_owner_ids(Q(phone=normalised))) if normalised else qs.none()
    if email:
        qs = qs.filter(pk__in=_owner_ids(Q(email=email.strip().lower())))
    if member_number:
        qs = qs.filter(pk__in=_owner_ids(Q(member_number=member_number.strip())))
    if query and query.strip():
        condition = search_condition(query)
        ids = id_owner_queries(query)
        if ids or old_contact_condition(query) is not None:
            # A card, phone, email or id: match every record, merged ones too, and take their owners.
            # One `IN (… UNION ALL …)` of index scans; an OR of subqueries would scan the table.
            owners = _owner_ids(condition)
            qs = qs.filter(pk__in=owners.union(*ids, all=True) if ids else owners)
        else:  # names and kana: the plain condition keeps the kana index walk for ORDER BY … LIMIT
            qs = qs.filter(condition)
    return qs.order_by("search_kana", "pk")


def found_through_merged_record(*, query: str, customers: list[Customer]) -> set[int]:
    """Which of these customers were found only because a record merged into them holds the card,
    phone or email typed (staff see a badge saying so)."""
    condition = old_contact_condition(query)
    if condition is None or not customers:
        return set()
    return set(
        Customer.objects.filter(condition, merged_into__in=[c.pk for c in customers]).values_list(
            "merged_into_id", flat=True
        )
    ) - set(Customer.objects.filter(condition, pk__in=[c.pk for c in customers]).values_list("pk", flat=True))


@dataclass(frozen=True)
class CardHint:
    """A card number that fails its check digit, and the members whose card differs from it by one
    digit or two neighbouring digits swapped (the usual typing slips)."""

    typed: str
    candidates: list[Customer]


def card_number_hint(query: str) -> CardHint | None:
    digits = re.sub(r"[\s-]+", "", unicodedata.normalize("NFKC", query))
    if not re.fullmatch(r"\d{12}", digits) or luhn_check_digit(digits[:-1]) == digits[-1]:
        return None
    variants = set()
    for i in range(12):
        for d in "0123456789":
            variants.add(digits[:i] + d + digits[i + 1 :])
    for i in range(11):
        variants.add(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])
    valid = [v for v in variants - {digits} if luhn_check_digit(v[:-1]) == v[-1]]
    candidates = list(active_customers().filter(member_number__in=valid).order_by("member_number")[:5])
    return CardHint(typed=digits, candidates=candidates)


def identity_pairs(customer_ids) -> dict[int, list[tuple[str, str]]]:
    """The channel accounts of these customers as ``(channel, external_id)``, by channel then id; one
    hand-written statement for the API's customer answers (a prefetch's ORM query cost more CPU than
    its run on every resolve and search)."""
    ids = list(dict.fromkeys(customer_ids))
    pairs: dict[int, list[tuple[str, str]]] = {pk: [] for pk in ids}
    if not ids:
        return pairs
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT customer_id, channel, external_id FROM {ChannelIdentity._meta.db_table} "  # noqa: S608  # nosec B608
            f"WHERE customer_id IN ({', '.join(['%s'] * len(ids))}) ORDER BY customer_id, channel, external_id",
            ids,
        )
        for customer_id, channel, external_id in cursor.fetchall():
            pairs[customer_id].append((channel, external_id))
    return pairs


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


def possible_duplicates(
    *, email: str = "", phone: str = "", kana: str = "", birth_date=None, exclude_pk: int | None = None
) -> list[Customer]:
    """Members who may be the person being registered: the same email or phone, or the same name in
    kana and birth date. Values as typed; ones that do not normalise are ignored here (the service
    reports them)."""
    condition = Q()
    email = (email or "").strip().lower()
    if email:
        condition |= Q(email=email)
    normalised_phone = parse_phone(phone) if phone else None
    if normalised_phone:
        condition |= Q(phone=normalised_phone)
    search_kana = normalize_kana(kana or "")
    if search_kana and birth_date:
        condition |= Q(search_kana=search_kana, birth_date=birth_date)
    if not condition:
        return []
    found = active_customers().filter(condition).select_related("home_store").order_by("pk")
    if exclude_pk is not None:
        found = found.exclude(pk=exclude_pk)
    return list(found[:10])


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


def order_list(*, customer: Customer | None = None, status: str = "", store: Store | None = None) -> QuerySet[Order]:
    """Orders for "where is my order?": a customer's (a merged id's orders live on the survivor), in
    one status, at one store (where it was sold, ships from or is collected)."""
    orders = Order.objects.all()
    if customer is not None:
        orders = orders.filter(customer=customer)
    if status:
        orders = orders.filter(status=status)
    if store is not None:
        orders = orders.filter(Q(store=store) | Q(fulfilled_from=store))
    return order_with_lines(orders)


def order_with_lines(queryset: QuerySet[Order] | None = None) -> QuerySet[Order]:
    queryset = Order.objects.all() if queryset is None else queryset
    return queryset.select_related("store", "fulfilled_from", "customer").prefetch_related("lines__product")


def _order_title(order: Order) -> str:
    """Where the order stands, for an agent answering "where is my order?" beside a ticket."""
    title = f"{order.get_channel_display()} {order.store.name} ¥{order.total:,}"
    if order.fulfilment_type:
        title += f" — {order.get_status_display()}"
        if order.fulfilment_type == Order.Fulfilment.PICKUP and order.fulfilled_from:
            title += f" ({order.fulfilled_from.name})"
        if order.tracking_number:
            title += f" {order.carrier} {order.tracking_number}"
    return title


def fulfilment_queue(*, store: Store) -> dict[str, list[Order]]:
    """What a store has to do for orders: ship-from-store orders to pick, pack and ship, pickups to
    prepare, and the ready shelf (oldest first, so the longest-waiting comes first)."""
    orders = order_with_lines(
        Order.objects.filter(status__in=[Order.Status.PLACED, Order.Status.READY_FOR_PICKUP]).filter(
            Q(fulfilled_from=store) | Q(fulfilled_from__isnull=True, store=store)
        )
    ).order_by("ordered_at", "pk")
    queue: dict[str, list[Order]] = {"to_ship": [], "to_prepare": [], "ready": []}
    for order in orders:
        if order.status == Order.Status.READY_FOR_PICKUP:
            queue["ready"].append(order)
        elif order.fulfilment_type == Order.Fulfilment.PICKUP:
            queue["to_prepare"].append(order)
        else:
            queue["to_ship"].append(order)
    return queue


def order_timeline(*, customer: Customer, limit: int, before=None) -> list[TimelineEntry]:
    orders = Order.objects.filter(customer=customer).select_related("store", "fulfilled_from")
    returns = OrderReturn.objects.filter(order__customer=customer).select_related("order")
    if before is not None:
        orders = orders.filter(ordered_at__lt=before)
        returns = returns.filter(created_at__lt=before)
    entries = [
        TimelineEntry(
            at=o.ordered_at, kind="order", id=o.public_id, channel=o.channel,
            title=_order_title(o),
            detail={"total": o.total, "store": o.store.code, "status": o.status, "points_redeemed": o.points_redeemed,
                    "fulfilment": o.fulfilment_type, "carrier": o.carrier, "tracking_number": o.tracking_number},
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
