"""Extension points through which other apps add to crm's pages and answers without crm importing
them: panels on the customer 360 page, entries in the customer timeline, summary fields on the
customer body (points balance, tier), menu items, and per-recipient variables of campaign mails.
Apps register in their AppConfig.ready()."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Panel:
    key: str
    title: Any  # a lazy translatable string
    template: str
    get_context: Callable[..., dict]  # (customer, request) -> template context
    order: int = 100
    permission: str | None = None  # staff without it do not see the panel


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # order, return, message, ticket, points, reservation, campaign_mail, merge, ...
    title: str
    id: str = ""
    channel: str = ""
    detail: dict = field(default_factory=dict)


_panels: dict[str, Panel] = {}
_timeline_sources: dict[str, Callable[..., list[TimelineEntry]]] = {}
_summary_providers: dict[str, Callable[..., dict]] = {}


def register_panel(panel: Panel) -> None:
    _panels[panel.key] = panel


def panels_for(user) -> list[Panel]:
    return sorted(
        (p for p in _panels.values() if p.permission is None or user.has_perm(p.permission)),
        key=lambda p: (p.order, p.key),
    )


def register_timeline_source(key: str, source: Callable[..., list[TimelineEntry]]) -> None:
    """`source(customer=..., limit=..., before=...)` returns that app's newest entries for the customer
    that happened before `before` (a datetime, or None for the newest)."""
    _timeline_sources[key] = source


def customer_timeline(*, customer, limit: int = 50, before: datetime | None = None) -> list[TimelineEntry]:
    entries = []
    for source in _timeline_sources.values():
        entries += source(customer=customer, limit=limit, before=before)
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def register_customer_summary(key: str, provider: Callable[..., dict]) -> None:
    """`provider(customers=[...])` returns ``{customer.pk: {field: value}}`` for a whole page at once."""
    _summary_providers[key] = provider


def customer_summaries(customers) -> dict[int, dict]:
    summaries: dict[int, dict] = {c.pk: {} for c in customers}
    for provider in _summary_providers.values():
        for pk, values in provider(customers=customers).items():
            summaries.setdefault(pk, {}).update(values)
    return summaries


@dataclass(frozen=True)
class NavItem:
    key: str
    label: Any
    url_name: str
    permission: str | None = None
    order: int = 100


_nav_items: dict[str, NavItem] = {}


def register_nav_item(item: NavItem) -> None:
    """An app's staff page in the top menu (e.g. the agent inbox)."""
    _nav_items[item.key] = item


def navigation_for(user) -> list[dict]:
    from django.urls import reverse

    return [
        {"label": item.label, "url": reverse(item.url_name), "key": item.key}
        for item in sorted(_nav_items.values(), key=lambda i: (i.order, i.key))
        if item.permission is None or user.has_perm(item.permission)
    ]


@dataclass(frozen=True)
class MailVariable:
    """A per-recipient value another app adds to campaign mail templates (e.g. the products suggested
    to each recipient). campaigns reads these without importing the app that provides them."""

    name: str  # the template variable, e.g. "recommended_products"
    provider: Callable[..., dict]  # (customers=[...]) -> {customer.pk: value}; one call per send batch
    sample: Any  # the value in previews and test sends to the sample customer
    help: Any = ""  # what it holds, for the people who write the templates


_mail_variables: dict[str, MailVariable] = {}


def register_mail_variable(variable: MailVariable) -> None:
    _mail_variables[variable.name] = variable


def mail_variables() -> list[MailVariable]:
    return sorted(_mail_variables.values(), key=lambda v: v.name)


def mail_variable_values(customers) -> dict[int, dict[str, Any]]:
    """{customer.pk: {variable: value}} for a batch of recipients, one provider call per variable."""
    values: dict[int, dict[str, Any]] = {c.pk: {} for c in customers}
    for variable in mail_variables():
        for pk, value in variable.provider(customers=customers).items():
            values.setdefault(pk, {})[variable.name] = value
    return values


def sample_mail_variable_values() -> dict[str, Any]:
    return {variable.name: variable.sample for variable in mail_variables()}


@dataclass(frozen=True)
class CouponHold:
    """A coupon reserved (locked) inside a sale's transaction: its discount, and how to record its
    use once the order row exists."""

    discount: int
    redeem: Callable[..., Any]  # (order) -> None


_coupon_provider: Callable[..., CouponHold] | None = None


def register_coupon_provider(provider: Callable[..., CouponHold]) -> None:
    """`provider(code=, customer=, lines=, channel=, store=, at=)` reserves a coupon inside the order's
    transaction, or raises (a field error on `coupon_code`, or a DomainError such as coupon_used).
    campaigns registers it; crm never imports campaigns. When the order pipeline declares its steps
    here, this becomes the coupon step."""
    global _coupon_provider  # one provider, set once in AppConfig.ready()
    _coupon_provider = provider


def coupon_provider() -> Callable[..., CouponHold] | None:
    return _coupon_provider
