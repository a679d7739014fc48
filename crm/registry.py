"""Extension points through which other apps add to crm's writes, pages and answers without crm
importing them: the steps of the order pipeline (and of returns), panels on the customer 360 page,
entries in the customer timeline, summary fields on the customer body (points balance, tier), menu
items, per-recipient variables of campaign mails, and each app's part of a person's data export and
erasure (crm/privacy/registry.py). Apps register in their AppConfig.ready().

The order pipeline (crm.services.record_order), the contract every step keeps
-----------------------------------------------------------------------------
An order is recorded in ONE transaction, in this order:

1. crm locks the customer row (``SELECT … FOR UPDATE``) and re-resolves a merged id to its survivor
   under that lock, so a merge cannot move the customer's orders while this one is being written.
2. Every registered step's ``prepare(draft)`` runs, by ``position`` (lowest first). A step receives
   the ``OrderDraft``: customer, store, channel, the lines with their products (already read by
   crm: a step never reads them again), the amounts, and the order's ``public_id`` (known before
   the row exists, for ledger references). ``prepare`` takes the step's locks, checks and decides;
   it may refuse the order by raising a ``DomainError`` (nothing is then written). It writes nothing
   of the order (only what stands on its own: a point account created at first use, points past
   their date expired, a stock level created at zero); it sets what the order row is written with
   (``draft.points_earned``, ``draft.fulfilled_from``) and may add fields to the answer
   (``draft.answer``, e.g. the new points balance).
3. crm writes the order row ONCE, with its final values, and its lines. If a concurrent request
   recorded the same ``(source, external_ref)`` first, nothing more is written: no ``write`` runs
   and the caller gets that order (or ``reference_conflict``).
4. Every step's ``write(draft)`` runs, same order: ledger rows that reference ``draft.order``.
   A ``write`` must not refuse: everything that could refuse happened in ``prepare``.
5. After COMMIT crm sends ``order_recorded`` (``crm.signals``) for work that must never refuse or
   slow the sale (purchase summary, mails, webhooks): receivers queue Celery tasks.

The global lock order. Every path that locks takes rows in this order, never backwards, so two
transactions never wait on each other in a circle (``LOCK_ORDER``, pinned by
``tests/crm/test_pipeline.py``):

  customer → order (returns) → coupon → point account → stock levels

Stock levels of one location are locked in primary-key order in one statement. The one path that
needs several locations (an EC/app order whose warehouse falls short) holds its shipping location's
rows and then locks every candidate row of the stores in ONE pk-ordered statement and chooses in
memory; every other path locks rows of a single location, so no path waits for a warehouse row
while holding a store row. Positions: ``campaigns.coupon`` 10 (locks the coupon row; its discount
comes off the total before points are earned on what is paid), ``loyalty.points`` 20 (locks the
point account),
``inventory.stock`` 30 (locks stock levels). A new step that locks something takes the position of
its place in this order and says so in ``locks``.

Returns (crm.services.record_return) follow the same pattern: crm locks the order, writes the
return and its lines, then every return step's ``write(draft)`` runs by position with a
``ReturnDraft`` (the order, the return, and each returned order line with its quantity).

Cancellations (crm.services.fulfilment.cancel_order: an EC/app order before it has left) too: crm
locks the order and marks it cancelled, then every cancel step's ``write(order=order)`` runs by
position in the same transaction — campaigns gives the coupon back (10), loyalty gives back the
redeemed points and takes back the earned ones (20), inventory releases the held units or puts the
shipped-from stock back (30).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .privacy.registry import (  # noqa: F401  each app's part of a person's export and erasure (APPI)
    Person,
    PersonalDataSource,
    not_personal_data,
    personal_data_sources,
    register_not_personal_data,
    register_personal_data,
)

LOCK_ORDER = ("customer", "order", "coupon", "point account", "stock levels")
COUPON_STEP = "campaigns.coupon"  # the step that reads OrderDraft.coupon_code (crm refuses a code without it)


# --- The order pipeline -------------------------------------------------------------------------
@dataclass
class DraftLine:
    line_number: int
    product: Any  # crm.Product
    quantity: int
    unit_price: int
    reservation: str = ""  # store sales: a hold's id/code or a handed-over pickup order's id

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


@dataclass
class OrderDraft:
    """What crm holds about an order being recorded; steps read it and fill in the order's values."""

    public_id: str
    source: str
    external_ref: str
    channel: str
    store: Any  # crm.Store: the selling store, or for EC/app the location that ships
    customer: Any  # crm.Customer (locked, the survivor of any merge) or None for a guest
    ordered_at: datetime
    lines: list[DraftLine]
    redeem_points: int
    subtotal: int
    total: int
    coupon_code: str = ""  # a coupon to redeem with this sale (campaigns' coupon step, position 10)
    # filled in by steps' prepare(), written with the order row
    discount: int = 0  # the coupon's discount, already taken off `total`
    points_earned: int = 0
    fulfilled_from: Any = None  # crm.Store when another location ships
    # the order's lifecycle (crm.services.fulfilment.lifecycle_fields): status, fulfilment_type,
    # pickup_code (and fulfilled_from: the pickup store), written with the order row
    lifecycle: dict = field(default_factory=dict)
    # set by crm once the row is written, before the steps' write()
    order: Any = None
    # what steps add to the answer of this request (e.g. points_balance)
    answer: dict = field(default_factory=dict)
    # each step's own plan between prepare() and write(), under its name
    plans: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OrderStep:
    name: str
    position: int
    locks: str  # what prepare() locks: one of LOCK_ORDER, or "" for nothing
    prepare: Callable[[OrderDraft], None]
    write: Callable[[OrderDraft], None] | None = None


@dataclass
class ReturnDraft:
    order: Any  # crm.Order, locked, with returned_amount and status updated
    order_return: Any  # crm.OrderReturn, written
    lines: list  # [(crm.OrderLine, quantity returned now)] in line order; returned_quantity includes it
    answer: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ReturnStep:
    name: str
    position: int
    locks: str
    write: Callable[[ReturnDraft], None]


@dataclass(frozen=True)
class CancelStep:
    name: str
    position: int
    locks: str
    write: Callable[..., None]  # write(order=<crm.Order, locked, already cancelled>)


_order_steps: dict[str, OrderStep] = {}
_return_steps: dict[str, ReturnStep] = {}
_cancel_steps: dict[str, CancelStep] = {}


def _check_locks(name: str, locks: str) -> None:
    if locks and locks not in LOCK_ORDER:
        raise ValueError(f"step {name}: locks {locks!r} is not in LOCK_ORDER {LOCK_ORDER}")


def register_order_step(step: OrderStep) -> None:
    _check_locks(step.name, step.locks)
    _order_steps[step.name] = step


def order_steps() -> list[OrderStep]:
    return sorted(_order_steps.values(), key=lambda s: (s.position, s.name))


def register_return_step(step: ReturnStep) -> None:
    _check_locks(step.name, step.locks)
    _return_steps[step.name] = step


def return_steps() -> list[ReturnStep]:
    return sorted(_return_steps.values(), key=lambda s: (s.position, s.name))


def register_cancel_step(step: CancelStep) -> None:
    _check_locks(step.name, step.locks)
    _cancel_steps[step.name] = step


def cancel_steps() -> list[CancelStep]:
    return sorted(_cancel_steps.values(), key=lambda s: (s.position, s.name))


# --- Pages and answers --------------------------------------------------------------------------


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


# --- The demo -------------------------------------------------------------------------------------
# `manage.py seed_demo` seeds crm's bulk history, then runs each app's demo step in position order
# (crm.demo): each writes through its app's own services and does nothing when its part is there
# already, so a second run changes nothing.
@dataclass(frozen=True)
class DemoStep:
    key: str
    run: Callable[..., str]  # run(rng=random.Random, seeded=bool) -> one line saying what it wrote
    position: int


_DEMO_STEPS: dict[str, DemoStep] = {}


def register_demo_step(step: DemoStep) -> None:
    _DEMO_STEPS[step.key] = step


def demo_steps() -> list[DemoStep]:
    return sorted(_DEMO_STEPS.values(), key=lambda step: (step.position, step.key))


# --- The mail preferences link of automatic mails -----------------------------------------------
# Every mail to a customer carries the sender's identity and a way to stop mails (crm/mail.py). The
# page where a customer chooses their mails belongs to campaigns, which registers how to link to it.
_mail_preferences_link: list[Callable[[Any], str]] = []


def register_mail_preferences_link(link: Callable[[Any], str]) -> None:
    _mail_preferences_link[:] = [link]


def mail_preferences_url(customer) -> str:
    return _mail_preferences_link[0](customer) if _mail_preferences_link and customer is not None else ""
