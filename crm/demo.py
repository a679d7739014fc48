"""The lived-in demo that `make run` builds: crm's bulk history (crm.seeding), then every app's demo
step (registered in crm.registry from the apps' AppConfig.ready()), each writing through its own
services, as a store would. Every step does nothing when its part exists already, so running the
whole again changes nothing.

crm's own steps: the demo staff (a clerk, two agents, a marketer: invited like real staff, so each
gets a set-password mail) and this week's orders, recorded through record_order so that they earn
and redeem points and move stock exactly as a till or the EC site would.
"""

import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from .models import Customer, Order, Product, SalesChannel, Store
from .registry import DemoStep, demo_steps, register_demo_step
from .roles import AGENT, MARKETER, STORE_STAFF

DEMO_SOURCE = "demo"  # the source system of the orders the demo records through the order pipeline
STAFF = [
    ("clerk@tsunagu.example", STORE_STAFF, "渋谷店 佐藤", "TKY-SBY"),
    ("agent@tsunagu.example", AGENT, "サポート 高橋", None),
    ("agent2@tsunagu.example", AGENT, "サポート 伊藤", None),
    ("marketer@tsunagu.example", MARKETER, "販促 山本", None),
]


@dataclass
class DemoResult:
    seeded: bool
    lines: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def build_demo(*, customers: int, orders: int, seed: int = 1, quiet: bool = False, write=print) -> DemoResult:
    """Seed the bulk history on an empty database, then run every app's demo step in order."""
    from .seeding import seed_demo_data  # Faker, tqdm: only when seeding

    seeded = not Customer.objects.exists()
    result = DemoResult(seeded=seeded)
    if seeded:
        start = time.perf_counter()
        base = seed_demo_data(customers=customers, orders=orders, seed=seed, quiet=quiet)
        result.seconds["history"] = time.perf_counter() - start
        write(
            f"Seeded in {result.seconds['history']:.1f} s: {base.customers:,} customers "
            f"({base.identities:,} channel accounts), {base.orders:,} orders; "
            f"{base.stores} stores, {base.products} products in the catalogue."
        )
    for step in demo_steps():
        start = time.perf_counter()
        rng = random.Random(f"{seed}:{step.key}")  # nosec B311  demo data, not security
        line = step.run(rng=rng, seeded=seeded, changed=seeded or bool(result.lines))
        result.seconds[step.key] = time.perf_counter() - start
        if line:
            result.lines.append(line)
            write(f"{step.key}: {line} ({result.seconds[step.key]:.1f} s)")
    return result


def demo_staff(*, rng, seeded, **_) -> str:
    from django.contrib.auth import get_user_model

    from .services.staff import invite_staff

    existing = set(get_user_model().objects.filter(email__in=[e for e, *_ in STAFF]).values_list("email", flat=True))
    stores = {s.code: s for s in Store.objects.filter(code__in=[c for *_, c in STAFF if c])}
    invited = [
        invite_staff(email=email, role=role, display_name=name, store=stores.get(code))
        for email, role, name, code in STAFF
        if email not in existing
    ]
    return f"{len(invited)} staff invited (set-password mails)" if invited else ""


def top_customers(count: int) -> list[Customer]:
    """The best customers by spend: the demo gives them this week's orders, holds and contacts."""
    ids = (
        Order.objects.filter(customer__isnull=False, customer__merged_into__isnull=True)
        .values("customer")
        .annotate(spend=Sum("total"))
        .order_by("-spend", "customer")
        .values_list("customer", flat=True)[:count]
    )
    by_id = Customer.objects.in_bulk(list(ids))
    return [by_id[i] for i in ids if i in by_id]


def demo_recent_orders(*, rng, seeded, count: int = 40, **_) -> str:
    """This week's sales through the order pipeline (points earned and redeemed, stock moved)."""
    from .services import record_order

    if Order.objects.filter(source=DEMO_SOURCE, external_ref__startswith="week-").exists():
        return ""
    stores = list(Store.objects.filter(active=True, kind=Store.Kind.STORE).order_by("code"))
    warehouse = Store.objects.filter(active=True, kind=Store.Kind.WAREHOUSE).order_by("code").first()
    products = list(Product.objects.filter(active=True).order_by("sku"))
    buyers = top_customers(count)
    if not (stores and warehouse and products and buyers):
        return ""
    now = timezone.now()
    recorded = 0
    for n in range(count):
        customer = buyers[n % len(buyers)] if n % 5 else None  # one in five is a guest at the till
        online = n % 3 == 0
        picked = rng.sample(products, rng.randint(1, 3))
        lines = [{"product": p, "quantity": 1, "unit_price": p.price} for p in picked]
        subtotal = sum(line["unit_price"] for line in lines)
        balance = points_balance(customer)
        redeem = min(balance, subtotal) // 100 * 100 if customer and n % 4 == 1 and balance >= 100 else 0
        record_order(
            source=DEMO_SOURCE, external_ref=f"week-{n:03d}",
            channel=SalesChannel.EC if online else SalesChannel.STORE,
            store=warehouse if online else rng.choice(stores[:4]),
            ordered_at=now - timedelta(days=n % 7, hours=rng.randint(1, 9), minutes=rng.randint(0, 59)),
            lines=lines, customer=customer, redeem_points=redeem,
        )  # fmt: skip
        recorded += 1
    return f"{recorded} orders of this week through the order pipeline"


def points_balance(customer: Customer | None) -> int:
    from .registry import customer_summaries

    if customer is None:
        return 0
    return customer_summaries([customer]).get(customer.pk, {}).get("points_balance", 0) or 0


def register() -> None:
    register_demo_step(DemoStep("crm.staff", demo_staff, position=10))
    register_demo_step(DemoStep("crm.recent_orders", demo_recent_orders, position=40))
