"""Loyalty's part of the demo (crm.demo): the bulk-seeded history earns its points through
earn_points_for_orders (the same points, ledger rows and lots as earn_order_points) from the day the
programme started, points past their date expire through expire_points, tiers follow the 12-month
spend through recalculate_tiers, and some customers spend points or get a correction at the counter
through redeem_points and adjust_points. Each part skips what is done already: a second run writes nothing."""

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from crm.models import Customer, Order, SalesChannel, Store

from . import conf
from .models import PointAccount, PointTransaction
from .services import adjust_points, earn_points_for_orders, expire_points, recalculate_tiers, redeem_points

# The store's points programme started a month longer ago than points last: orders before that earned
# nothing, and the programme's oldest points have just expired.
PROGRAMME_MONTHS = conf.expiry_months() + 1
REASONS = ["お誕生日ポイント", "レシート紛失による付与漏れの補填", "アンケート回答のお礼"]


def demo_points(*, rng, seeded, **_) -> str:
    started = timezone.now() - relativedelta(months=PROGRAMME_MONTHS)
    earned = earn_points_for_orders(orders=Order.objects.filter(ordered_at__gte=started))
    expired = expire_points()
    tiers = recalculate_tiers()
    stores = list(Store.objects.filter(active=True, kind=Store.Kind.STORE).order_by("code"))
    done = PointTransaction.objects.filter(reference__startswith="demo-").exists()
    accounts = (
        []
        if done
        else list(
            PointAccount.objects.filter(balance__gte=500, customer__merged_into__isnull=True)
            .select_related("customer")
            .order_by("-balance", "pk")[:60]
        )
    )
    spent = adjusted = 0
    for n, account in enumerate(accounts):
        customer: Customer = account.customer
        if n % 3 == 0:
            _, created = adjust_points(
                customer=customer, points=rng.choice([100, 200, 300]), reason=REASONS[n % len(REASONS)],
                reference=f"demo-adjust-{customer.public_id}", channel=SalesChannel.STORE,
                store=stores[n % len(stores)],
            )  # fmt: skip
            adjusted += created
        else:
            _, created = redeem_points(
                customer=customer, points=min(account.balance, rng.choice([300, 500, 1000])) // 100 * 100,
                channel=SalesChannel.STORE if n % 2 else SalesChannel.APP,
                store=stores[n % len(stores)] if n % 2 else None,
                reference=f"demo-redeem-{customer.public_id}",
            )  # fmt: skip
            spent += created
    if not (earned["orders"] or expired["lots"] or tiers or spent or adjusted):
        return ""
    return (
        f"{earned['points']:,} points earned on {earned['orders']:,} past orders, {expired['points']:,} expired, "
        f"{tiers:,} tier changes, {spent} redemptions, {adjusted} adjustments"
    )


def demo_tiers(**_) -> str:
    """Once every demo order is in: the tiers they reach (beat does this nightly)."""
    changed = recalculate_tiers()
    return f"{changed} tier changes after this week's orders" if changed else ""


def register() -> None:
    from crm.registry import DemoStep, register_demo_step

    register_demo_step(DemoStep("loyalty.points", demo_points, position=20))
    register_demo_step(DemoStep("loyalty.tiers", demo_tiers, position=80))
