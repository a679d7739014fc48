"""Segment rules: validation (errors keyed by the rule's path, `rules.all.1.op`) and compilation of a
rule tree to ONE query over customers, with EXISTS / scalar subqueries per condition, never a Python
loop over customers.

A group is ``{"all": [...]}``, ``{"any": [...]}`` or ``{"not": rule}``; a condition is
``{"field", "op", "value"}`` plus the filters its field takes (shared/API.md, Segments).
Fields that read other apps (loyalty, hub tickets, reservations) are registered by
``campaigns.segment_fields`` only when those apps' models exist.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import ChannelIdentity, Customer, Order, OrderLine, Product, SalesChannel, Store
from crm.prefectures import PREFECTURES
from crm.selectors import active_customers

from .models import PurchaseSummary, Suppression

MAX_CONDITIONS = 40
MAX_DEPTH = 6
MAX_LIST = 200
MAX_DAYS = 3650
MAX_NUMBER = 10**12
SAMPLE_SIZE = 20


@dataclass(frozen=True)
class Filter:
    kind: str  # "days", "str", "choice"
    choices: tuple[str, ...] = ()
    required: bool = False
    source: str = ""  # for "str": the ValueSource its values come from (and are checked against)


@dataclass(frozen=True)
class FieldSpec:
    """One condition field: which ops and value it takes, its filters, and how it becomes a Q."""

    name: str
    label: Any
    ops: tuple[str, ...]
    value: str  # "str", "str_list", "int", "bool", "month"
    compile: Callable[..., Q]  # (op, value, filters, now) -> Q over Customer
    filters: dict[str, Filter] = field(default_factory=dict)
    group: Any = ""
    max_value: int = MAX_NUMBER  # for "int" values: what the comparison can still compute (a date, a day count)
    source: str = ""  # for "str" values: the ValueSource its values come from (and are checked against)
    unit: Any = ""  # for "int" values: what the number counts (years, points, yen), shown in the builder


@dataclass(frozen=True)
class ValueSource:
    """Where the builder's pickers find the values a text condition or filter may take, and how values
    are checked, so that a typo (`category: "outer"`) is refused instead of silently matching nobody."""

    name: str
    label: Any  # what one value is, in an error message ("category")
    search: Callable[[str, int], list[tuple[str, str]]]  # (typed text, limit) -> [(value, label)]
    known: Callable[[set[str]], set[str]]  # those of the given values that exist


FIELDS: dict[str, FieldSpec] = {}
SOURCES: dict[str, ValueSource] = {}


def register_field(spec: FieldSpec) -> None:
    FIELDS[spec.name] = spec


def register_source(source: ValueSource) -> None:
    SOURCES[source.name] = source


# --- Validation -------------------------------------------------------------------------------
def validate_rules(rules, *, path: str = "rules") -> None:
    """Raise ValidationError({path: [message]}) for every bad node; return None if the tree is valid."""
    errors: dict[str, list[str]] = {}
    counter = [0]
    _check_node(rules, path, errors, depth=0, counter=counter)
    if not errors and counter[0] == 0:
        errors[path] = [str(_("Add at least one condition."))]
    if errors:
        raise ValidationError(errors)


def _err(errors, path, message):
    errors.setdefault(path, []).append(str(message))


def _check_node(node, path, errors, *, depth, counter):
    if depth > MAX_DEPTH:
        _err(errors, path, _("Groups are nested too deeply (at most %(n)d levels).") % {"n": MAX_DEPTH})
        return
    if not isinstance(node, dict):
        _err(errors, path, _("Expected a group ({all|any|not}) or a condition ({field, op, value})."))
        return
    groups = [k for k in ("all", "any", "not") if k in node]
    if groups:
        if len(node) != 1:
            _err(errors, path, _("A group has exactly one key: all, any or not."))
            return
        key = groups[0]
        child = node[key]
        if key == "not":
            _check_node(child, f"{path}.not", errors, depth=depth + 1, counter=counter)
            return
        if not isinstance(child, list) or not child:
            _err(errors, f"{path}.{key}", _("Expected a non-empty list of rules."))
            return
        for i, item in enumerate(child):
            _check_node(item, f"{path}.{key}.{i}", errors, depth=depth + 1, counter=counter)
        return
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        if counter[0] == MAX_CONDITIONS + 1:
            _err(errors, path, _("At most %(n)d conditions per segment.") % {"n": MAX_CONDITIONS})
        return
    _check_condition(node, path, errors)


def _check_condition(node: dict, path: str, errors: dict) -> None:
    name = node.get("field")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        _err(errors, f"{path}.field", _("Unknown field. Use one of: %(fields)s.") % {"fields": ", ".join(FIELDS)})
        return
    allowed = {"field", "op", "value", *spec.filters}
    for key in sorted(set(node) - allowed):
        _err(errors, f"{path}.{key}", _("This field takes no %(key)s filter.") % {"key": key})
    op = node.get("op")
    if op not in spec.ops:
        _err(errors, f"{path}.op", _("Use one of: %(ops)s.") % {"ops": ", ".join(spec.ops)})
    elif "value" not in node:
        _err(errors, f"{path}.value", _("This field is required."))
    else:
        message = _check_value(spec, op, node["value"])
        if message:
            _err(errors, f"{path}.value", message)
    for key, flt in spec.filters.items():
        if key not in node:
            if flt.required:
                _err(errors, f"{path}.{key}", _("This field is required."))
            continue
        message = _check_filter(flt, node[key])
        if message:
            _err(errors, f"{path}.{key}", message)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_value(spec: FieldSpec, op: str, value):
    kind = spec.value
    if kind == "bool":
        return None if isinstance(value, bool) else _("Expected true or false.")
    if kind == "int":
        if not _is_int(value) or not 0 <= value <= spec.max_value:
            return _("Expected a whole number from 0 to %(n)d.") % {"n": spec.max_value}
        return None
    if kind == "month":
        values = value if op == "in" else [value]
        if op == "in" and (not isinstance(value, list) or not value):
            return _("Expected a non-empty list of months (1-12).")
        if not all(_is_int(v) and 1 <= v <= 12 for v in values):
            return _("Expected a month from 1 to 12.")
        return None
    if op == "in":
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            return _("Expected a non-empty list of at most %(n)d values.") % {"n": MAX_LIST}
        if not all(isinstance(v, str) and v.strip() and len(v) <= 100 for v in value):
            return _("Expected a list of text values.")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return _("Expected a text value.")
    return None


def _check_filter(flt: Filter, value):
    if flt.kind == "days":
        if not _is_int(value) or not 1 <= value <= MAX_DAYS:
            return _("Expected a number of days from 1 to %(n)d.") % {"n": MAX_DAYS}
        return None
    if flt.kind == "choice":
        if value not in flt.choices:
            return _("Use one of: %(choices)s.") % {"choices": ", ".join(flt.choices)}
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return _("Expected a text value.")
    return None


def check_rule_values(rules, *, path: str = "rules") -> None:
    """Refuse values no picker offers (an unknown prefecture, store, tier, category, brand or SKU), each
    keyed by its path like validate_rules; one query per kind of value. Call validate_rules first.
    Saving and previewing check; sending does not, so a segment stays sendable after, say, a store closes."""
    wanted: dict[str, dict[str, list[str]]] = {}  # source -> value -> paths
    _collect_values(rules, path, wanted)
    errors: dict[str, list[str]] = {}
    for name, by_value in wanted.items():
        source = SOURCES[name]
        known = source.known(set(by_value))
        for value in sorted(set(by_value) - known):
            for value_path in by_value[value]:
                _err(errors, value_path, _("Unknown %(thing)s: “%(value)s”. Choose one from the list.")
                     % {"thing": source.label, "value": value})  # fmt: skip
    if errors:
        raise ValidationError(errors)


def _collect_values(node, path, wanted) -> None:
    for key in ("all", "any"):
        if key in node:
            for i, child in enumerate(node[key]):
                _collect_values(child, f"{path}.{key}.{i}", wanted)
            return
    if "not" in node:
        _collect_values(node["not"], f"{path}.not", wanted)
        return
    spec = FIELDS[node["field"]]
    if spec.source and spec.source in SOURCES:
        for value in _values(node["op"], node["value"]):
            wanted.setdefault(spec.source, {}).setdefault(value, []).append(f"{path}.value")
    for key, flt in spec.filters.items():
        if key in node and flt.source in SOURCES:
            wanted.setdefault(flt.source, {}).setdefault(node[key], []).append(f"{path}.{key}")


# --- Compilation ------------------------------------------------------------------------------
def compile_rules(rules, *, now: datetime | None = None) -> Q:
    """The rule tree as one Q over Customer. Call validate_rules first."""
    now = now or timezone.now()
    return _compile(rules, now)


def _compile(node: dict, now: datetime) -> Q:
    if "all" in node:
        q = Q()
        for child in node["all"]:
            q &= _compile(child, now)
        return q
    if "any" in node:
        q = Q(pk__in=[])
        for child in node["any"]:
            q |= _compile(child, now)
        return q
    if "not" in node:
        return ~_compile(node["not"], now)
    spec = FIELDS[node["field"]]
    filters = {k: node[k] for k in spec.filters if k in node}
    return spec.compile(node["op"], node["value"], filters, now)


def segment_customers(rules, *, now: datetime | None = None) -> QuerySet[Customer]:
    """Active (not merged-away) customers matching a validated rule tree."""
    return active_customers().filter(compile_rules(rules, now=now))


def preview_segment(rules, *, using: str = "default", now: datetime | None = None) -> tuple[int, list[str]]:
    """(count, up to 20 matching customer ids) in one query: the count is a window over the whole
    match, taken in the same pass that finds the first ids (not a second run of the segment)."""
    preview = preview_segment_reach(rules, using=using, now=now, reach=False)
    return preview.count, preview.sample


@dataclass(frozen=True)
class SegmentPreview:
    count: int
    mailable: int  # opted in, with an email, not on the suppression list: who an email campaign would mail
    sample: list[str]

    @property
    def suppressed(self) -> int:
        return self.count - self.mailable


def mailable_condition() -> Q:
    """Who an email campaign reaches (start_campaign leaves the others out as suppressed)."""
    on_list = Exists(Suppression.objects.filter(email=OuterRef("email")))
    return Q(email_opt_in=True) & ~Q(email="") & ~Q(on_list)


def preview_segment_reach(
    rules, *, using: str = "default", now: datetime | None = None, reach: bool = True
) -> SegmentPreview:
    """The count, how many of them an email campaign would mail (`reach`), and up to 20 ids, in one
    query: the counts are windows over the whole match, taken in the pass that finds the first ids."""
    validate_rules(rules)
    check_rule_values(rules)
    match = segment_customers(rules, now=now).using(using)
    if reach:
        match = match.annotate(mailable=ExpressionWrapper(mailable_condition(), output_field=BooleanField()))
    else:
        match = match.annotate(mailable=Value(False))
    inner_sql, params = match.values_list("pk", "public_id", "mailable").query.get_compiler(using).as_sql()
    # The match is a MATERIALIZED CTE so that PostgreSQL plans it for every row, as a count is planned
    # (hash joins). Written as one query with `ORDER BY id LIMIT 20` around window counts, the planner
    # costed it as if the LIMIT stopped it early, chose primary-key-ordered nested loops over the whole
    # table and took 3.2 s instead of 0.4 s at 1M customers (bench/campaigns.py).
    sql = (
        f"WITH m (id, public_id, mailable) AS MATERIALIZED ({inner_sql}) "  # noqa: S608  # nosec B608  the ORM's SQL
        "SELECT public_id, COUNT(*) OVER (), COUNT(*) FILTER (WHERE mailable) OVER () FROM m ORDER BY id LIMIT %s"
    )
    with connections[using].cursor() as cursor:
        cursor.execute(sql, (*params, SAMPLE_SIZE))
        rows = cursor.fetchall()
    if not rows:
        return SegmentPreview(count=0, mailable=0, sample=[])
    first = rows[0]
    return SegmentPreview(count=first[1], mailable=first[2] if reach else 0, sample=[row[0] for row in rows])


# --- Field helpers ------------------------------------------------------------------------------
# A condition every customer meets (`pk IS NOT NULL`: PostgreSQL drops it). Not an empty Q(): that
# would vanish from an `any` group instead of matching everyone.
EVERYONE = Q(pk__isnull=False)


def _values(op, value) -> list:
    return list(value) if op == "in" else [value]


def _compare(expression, op: str, value: int) -> Q:
    lookup = GreaterThanOrEqual if op == "gte" else LessThanOrEqual
    return Q(lookup(expression, Value(value)))


def orders_of_customer(filters: dict, now: datetime) -> QuerySet[Order]:
    """The customer's orders (OuterRef pk) narrowed by the channel / within_days / product filters."""
    orders = Order.objects.filter(customer=OuterRef("pk"))
    if "channel" in filters:
        orders = orders.filter(channel=filters["channel"])
    if "within_days" in filters:
        orders = orders.filter(ordered_at__gte=now - timedelta(days=filters["within_days"]))
    product = {f"product__{k}": filters[k] for k in ("category", "brand") if k in filters}
    if "sku" in filters:
        product["sku"] = filters["sku"]
    if product:
        orders = orders.filter(Exists(OrderLine.objects.filter(order=OuterRef("pk"), **product)))
    return orders


def purchases_of_customer(filters: dict, now: datetime) -> QuerySet[PurchaseSummary]:
    """The customer's purchase-summary rows (OuterRef pk) narrowed by the category / brand / channel /
    within_days filters: the same customers as EXISTS over orders_of_customer, read from one narrow table."""
    purchases = PurchaseSummary.objects.filter(customer=OuterRef("pk"))
    if "channel" in filters:
        purchases = purchases.filter(channel=filters["channel"])
    if "within_days" in filters:
        purchases = purchases.filter(last_purchased_at__gte=now - timedelta(days=filters["within_days"]))
    product = {f"product__{k}": filters[k] for k in ("category", "brand") if k in filters}
    return purchases.filter(**product) if product else purchases


def _aggregate(orders: QuerySet[Order], aggregate) -> Coalesce:
    per_customer = orders.order_by().values("customer").annotate(v=aggregate).values("v")
    return Coalesce(Subquery(per_customer, output_field=IntegerField()), Value(0))


def _years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


# --- crm fields -----------------------------------------------------------------------------------
def _prefecture(op, value, filters, now):
    return Q(prefecture__in=_values(op, value))


def _home_store(op, value, filters, now):
    return Q(home_store__code__in=_values(op, value))


def _age(op, value, filters, now):
    today = timezone.localdate(now)
    if op == "gte":  # born on or before today minus `value` years
        return Q(birth_date__lte=_years_ago(today, value))
    return Q(birth_date__gt=_years_ago(today, value + 1))


def _birthday_month(op, value, filters, now):
    return Q(birth_date__month__in=_values(op, value))


def _email_opt_in(op, value, filters, now):
    return Q(email_opt_in=value)


def _purchased(op, value, filters, now):
    # The summary has no SKU (order lines keep the SKU as sold): a SKU rule reads the order lines.
    bought = Exists(orders_of_customer(filters, now) if "sku" in filters else purchases_of_customer(filters, now))
    return Q(bought) if value else ~Q(bought)


# Totals over a customer's orders (spend, order count, channels) stay correlated subqueries: any
# form has to aggregate the orders, and per customer it is an index range scan on (customer, date)
# that runs only for the customers the other conditions leave. What can be a plain EXISTS is one:
# "at least 1" / "at most 0" orders, and bounds every customer meets.
def _spend(op, value, filters, now):
    if op == "gte" and value <= 0:
        return EVERYONE
    return _compare(_aggregate(orders_of_customer(filters, now), Sum("total")), op, value)


def _order_count(op, value, filters, now):
    if op == "gte" and value <= 0:
        return EVERYONE
    if (op, value) == ("gte", 1):
        return Q(Exists(orders_of_customer(filters, now)))
    if (op, value) == ("lte", 0):
        return ~Q(Exists(orders_of_customer(filters, now)))
    return _compare(_aggregate(orders_of_customer(filters, now), Count("pk")), op, value)


def _purchase_channels(op, value, filters, now):
    if value <= 0:  # `gte` only
        return EVERYONE
    if value == 1:
        return Q(Exists(orders_of_customer(filters, now)))
    orders = orders_of_customer(filters, now)
    return _compare(_aggregate(orders, Count("channel", distinct=True)), op, value)


def _days_since_last_purchase(op, value, filters, now):
    recent = Exists(Order.objects.filter(customer=OuterRef("pk"), ordered_at__gte=now - timedelta(days=value)))
    if op == "lte":
        return Q(recent)
    # Lapsed buyers: bought at some time, but nothing in the last `value` days.
    return Q(Exists(Order.objects.filter(customer=OuterRef("pk")))) & ~Q(recent)


def _contact_channels(op, value, filters, now):
    if value <= 0:  # `gte` only
        return EVERYONE
    if value == 1:
        return Q(Exists(ChannelIdentity.objects.filter(customer=OuterRef("pk"))))
    identities = ChannelIdentity.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
    counted = identities.annotate(v=Count("channel", distinct=True)).values("v")
    return _compare(Coalesce(Subquery(counted, output_field=IntegerField()), Value(0)), op, value)


SALES_CHANNELS = tuple(SalesChannel.values)
_PRODUCT_FILTERS = {
    "sku": Filter("str", source="sku"),
    "category": Filter("str", source="category"),
    "brand": Filter("str", source="brand"),
    "channel": Filter("choice", SALES_CHANNELS),
    "within_days": Filter("days"),
}
_ORDER_FILTERS = {"channel": Filter("choice", SALES_CHANNELS), "within_days": Filter("days")}
PROFILE, PURCHASES, OMNICHANNEL = _("Profile"), _("Purchases"), _("Omnichannel")
YEARS, YEN, ORDERS, DAYS, CHANNELS = _("years"), _("yen"), _("orders"), _("days"), _("channels")

for _spec in (
    FieldSpec("prefecture", _("Prefecture"), ("eq", "in"), "str", _prefecture, group=PROFILE, source="prefecture"),
    FieldSpec("home_store", _("Home store"), ("eq", "in"), "str", _home_store, group=PROFILE, source="store"),
    FieldSpec("age", _("Age"), ("gte", "lte"), "int", _age, group=PROFILE, max_value=150, unit=YEARS),
    FieldSpec("birthday_month", _("Birthday month"), ("eq", "in"), "month", _birthday_month, group=PROFILE),
    FieldSpec("email_opt_in", _("Email opt-in"), ("eq",), "bool", _email_opt_in, group=PROFILE),
    FieldSpec("purchased", _("Bought"), ("eq",), "bool", _purchased, _PRODUCT_FILTERS, group=PURCHASES),
    FieldSpec("spend", _("Spend (yen)"), ("gte", "lte"), "int", _spend, _ORDER_FILTERS, group=PURCHASES, unit=YEN),
    FieldSpec("order_count", _("Orders"), ("gte", "lte"), "int", _order_count, _ORDER_FILTERS, group=PURCHASES,
              unit=ORDERS),
    FieldSpec(
        "days_since_last_purchase", _("Days since last purchase"), ("gte", "lte"), "int",
        _days_since_last_purchase, group=PURCHASES, max_value=MAX_DAYS * 10, unit=DAYS,
    ),
    FieldSpec(
        "purchase_channels", _("Sales channels bought in"), ("gte",), "int", _purchase_channels,
        {"within_days": Filter("days")}, group=OMNICHANNEL, unit=CHANNELS,
    ),
    FieldSpec("contact_channels", _("Contact channels used"), ("gte",), "int", _contact_channels, group=OMNICHANNEL,
              unit=CHANNELS),
):  # fmt: skip
    register_field(_spec)


# --- Value sources of the crm fields ---------------------------------------------------------------
def _search_list(values: list[str]):
    def search(text: str, limit: int) -> list[tuple[str, str]]:
        return [(v, v) for v in values if text in v][:limit]

    return search


def _search_stores(text: str, limit: int) -> list[tuple[str, str]]:
    stores = Store.objects.order_by("code")
    if text:
        stores = stores.filter(Q(code__icontains=text) | Q(name__icontains=text))
    return [(code, f"{name} ({code})") for code, name in stores.values_list("code", "name")[:limit]]


def _product_column(column: str):
    def search(text: str, limit: int) -> list[tuple[str, str]]:
        values = Product.objects.exclude(**{column: ""}).order_by(column).values_list(column, flat=True).distinct()
        if text:
            values = values.filter(**{f"{column}__icontains": text})
        return [(v, v) for v in values[:limit]]

    def known(values: set[str]) -> set[str]:
        return set(Product.objects.filter(**{f"{column}__in": values}).values_list(column, flat=True).distinct())

    return search, known


def _search_skus(text: str, limit: int) -> list[tuple[str, str]]:
    products = Product.objects.order_by("sku")
    if text:
        products = products.filter(Q(sku__istartswith=text) | Q(name__icontains=text))
    return [(sku, f"{sku} {name}") for sku, name in products.values_list("sku", "name")[:limit]]


register_source(ValueSource("prefecture", _("prefecture"), _search_list(PREFECTURES), lambda v: v & set(PREFECTURES)))
register_source(
    ValueSource(
        "store", _("store"), _search_stores,
        lambda v: set(Store.objects.filter(code__in=v).values_list("code", flat=True)),
    )
)  # fmt: skip
register_source(ValueSource("category", _("category"), *_product_column("category")))
register_source(ValueSource("brand", _("brand"), *_product_column("brand")))
register_source(
    ValueSource(
        "sku", _("product (SKU)"), _search_skus,
        lambda v: set(Product.objects.filter(sku__in=v).values_list("sku", flat=True)),
    )
)  # fmt: skip
