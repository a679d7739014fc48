"""The ledger through the services: redeem, adjust, lots, orders, returns, merges, expiry, tiers."""

import datetime as dt
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from crm.models import Order
from crm.services import merge_customers, record_order, record_return
from loyalty.exceptions import InsufficientPoints, ReferenceConflict
from loyalty.models import EarnRule, PointAccount, PointCampaign, PointLot, PointTransaction, Tier, TierChange
from loyalty.selectors import accounts_out_of_balance, customer_balance
from loyalty.services import adjust_points, earn_points_for_orders, expire_points, recalculate_tiers, redeem_points
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory

from .factories import award, sell

pytestmark = pytest.mark.django_db


def balance_of(customer) -> int:
    return PointAccount.objects.get(customer=customer).balance


def assert_ledger_agrees():
    assert accounts_out_of_balance() == []


def test_defaults_give_one_point_per_100_yen_and_three_tiers():
    assert set(EarnRule.objects.values_list("channel", flat=True)) >= {"store", "ec", "app"}
    assert list(Tier.objects.values_list("code", "min_spend")) == [("regular", 0), ("silver", 50000), ("gold", 150000)]


def test_redeem_takes_points_oldest_expiring_lot_first():
    customer = CustomerFactory()
    old = award(customer, 100)
    new = award(customer, 50)
    PointLot.objects.filter(earned_by=new).update(expires_at=timezone.now() + dt.timedelta(days=400))
    txn, created = redeem_points(customer=customer, points=120, channel="store", reference="POS-1")
    assert created and txn.points == -120 and txn.public_id.startswith("ptx_")
    assert PointLot.objects.get(earned_by=old).remaining == 0
    assert PointLot.objects.get(earned_by=new).remaining == 30
    assert balance_of(customer) == 30
    assert_ledger_agrees()


def test_redeem_more_than_balance_is_refused_and_writes_nothing():
    customer = CustomerFactory()
    award(customer, 10)
    with pytest.raises(InsufficientPoints) as error:
        redeem_points(customer=customer, points=11, channel="ec", reference="EC-1")
    assert error.value.code == "insufficient_points" and error.value.status == 409
    assert balance_of(customer) == 10
    assert PointTransaction.objects.filter(kind="redeem").count() == 0


def test_redeem_with_the_same_reference_answers_the_original():
    customer = CustomerFactory()
    award(customer, 100)
    first, created = redeem_points(customer=customer, points=30, channel="app", reference="APP-1")
    again, created_again = redeem_points(customer=customer, points=30, channel="app", reference="APP-1")
    assert created and not created_again and again.pk == first.pk
    assert balance_of(customer) == 70
    with pytest.raises(ReferenceConflict):
        redeem_points(customer=customer, points=31, channel="app", reference="APP-1")


@pytest.mark.parametrize("points", [0, -1, 1.5, "10", True, 10_000_001, None])
def test_redeem_refuses_points_that_are_not_a_positive_whole_number(points):
    customer = CustomerFactory()
    award(customer, 100)
    with pytest.raises(ValidationError) as error:
        redeem_points(customer=customer, points=points, channel="store")
    assert "points" in error.value.message_dict
    assert balance_of(customer) == 100


def test_adjust_needs_a_reason_and_cannot_go_below_zero():
    customer = CustomerFactory()
    with pytest.raises(ValidationError) as error:
        adjust_points(customer=customer, points=10, reason="  ")
    assert "reason" in error.value.message_dict
    award(customer, 10)
    with pytest.raises(InsufficientPoints):
        adjust_points(customer=customer, points=-11, reason="誤付与の訂正")
    txn, _ = adjust_points(customer=customer, points=-10, reason="誤付与の訂正")
    assert txn.kind == "adjust" and txn.reason == "誤付与の訂正"
    assert balance_of(customer) == 0
    assert_ledger_agrees()


def test_points_past_their_date_are_not_spent():
    customer = CustomerFactory()
    lot_txn = award(customer, 100)
    PointLot.objects.filter(earned_by=lot_txn).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    with pytest.raises(InsufficientPoints):
        redeem_points(customer=customer, points=1, channel="store")
    # the refused redemption rolled back its own expiry too; the nightly run expires them
    assert balance_of(customer) == 100
    assert expire_points()["points"] == 100
    assert balance_of(customer) == 0


# --- Orders ---------------------------------------------------------------------------------------


def test_an_order_earns_one_point_per_100_yen_paid_in_money():
    customer = CustomerFactory()
    order = sell(customer, price=12345)
    order.refresh_from_db()
    assert order.points_earned == 123
    assert balance_of(customer) == 123
    assert PointLot.objects.get().expires_at == order.ordered_at + relativedelta(months=12)


def test_points_paid_part_earns_nothing_and_redemption_is_in_the_same_write():
    customer = CustomerFactory()
    award(customer, 1000)
    order = sell(customer, price=10000, redeem=1000)
    order.refresh_from_db()
    assert order.total == 9000 and order.points_earned == 90
    assert balance_of(customer) == 90
    redeem = PointTransaction.objects.get(kind="redeem")
    assert redeem.order == order and redeem.points == -1000 and redeem.channel == "store"
    assert_ledger_agrees()


def test_guest_orders_earn_nothing():
    sell(None, price=50000)
    assert PointTransaction.objects.count() == 0 and PointAccount.objects.count() == 0


def test_order_redeeming_more_than_the_balance_is_not_recorded():
    customer = CustomerFactory()
    award(customer, 10)
    with pytest.raises(InsufficientPoints):
        sell(customer, price=10000, redeem=11)
    assert Order.objects.count() == 0
    assert balance_of(customer) == 10


def test_tier_multiplier_and_best_campaign_of_the_category_apply():
    customer = CustomerFactory()
    account = PointAccount.objects.create(customer=customer, tier=Tier.objects.get(code="gold"))  # x1.5
    now = timezone.now()
    PointCampaign.objects.create(name="ダブルポイント", multiplier=Decimal(2), category="outerwear",
                                 starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=1))  # fmt: skip
    PointCampaign.objects.create(name="他店舗", multiplier=Decimal(5), store=StoreFactory(code="OTHER"),
                                 starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=1))  # fmt: skip
    coat = ProductFactory(category="outerwear")
    order = sell(customer, price=10000, product=coat)
    order.refresh_from_db()
    assert order.points_earned == 300  # 100 × 1.5 × 2; the other store's campaign does not apply
    account.refresh_from_db()
    assert account.balance == 300 and account.lifetime_spend == 10000


def test_a_partial_return_takes_back_the_returned_lines_and_gives_back_redeemed_points():
    customer = CustomerFactory()
    award(customer, 1000)
    coat, scarf = ProductFactory(sku="COAT", price=30000), ProductFactory(sku="SCARF", price=10000)
    order, _ = record_order(
        source="pos", external_ref="R-9", channel="store", store=StoreFactory(code="SHIBUYA"),
        ordered_at=timezone.now(), customer=customer, redeem_points=1000,
        lines=[{"product": coat, "quantity": 1, "unit_price": 30000},
               {"product": scarf, "quantity": 2, "unit_price": 5000}],
    )  # fmt: skip
    order.refresh_from_db()
    assert order.points_earned == 390  # (40000 − 1000) / 100
    assert balance_of(customer) == 390

    record_return(order=order, lines=[{"sku": "SCARF", "quantity": 1}])  # 5000 of 40000 returned
    reversals = PointTransaction.objects.filter(kind="reverse").order_by("pk")
    assert [t.points for t in reversals] == [125, -48]  # 1000 × 1/8 back; scarf line's 97 pt × 1/2 taken
    assert balance_of(customer) == 390 + 125 - 48
    record_return(order=order, lines=[{"sku": "SCARF", "quantity": 1}, {"sku": "COAT", "quantity": 1}])
    assert balance_of(customer) == 1000  # everything returned: the redeemed points are back, nothing earned
    assert sum(PointTransaction.objects.filter(kind="reverse", points__gt=0).values_list("points", flat=True)) == 1000
    assert_ledger_agrees()


def test_a_return_never_takes_the_balance_below_zero_and_records_the_shortfall():
    customer = CustomerFactory()
    order = sell(customer, price=10000)  # earns 100
    redeem_points(customer=customer, points=80, channel="store", reference="SPENT")
    record_return(order=order, lines=[{"sku": order.lines.get().sku, "quantity": 1}])
    reversal = PointTransaction.objects.get(kind="reverse")
    assert reversal.points == -20 and reversal.shortfall == 80
    assert balance_of(customer) == 0
    assert_ledger_agrees()


# --- Merge ----------------------------------------------------------------------------------------


def test_merge_moves_lots_and_ledger_to_the_survivor_with_one_balance():
    winner, loser = CustomerFactory(), CustomerFactory()
    award(winner, 100)
    award(loser, 40)
    sell(loser, price=5000)
    merge = merge_customers(winner=winner, loser=loser, reason="同一人物")
    assert balance_of(winner) == 190
    assert PointAccount.objects.get(customer=loser).balance == 0
    assert PointTransaction.objects.filter(account__customer=winner).count() == 3
    assert merge.moved["points"] == 90 and merge.moved["point_transactions"] == 2
    redeem_points(customer=winner, points=190, channel="ec")
    assert_ledger_agrees()


def test_merge_into_a_customer_without_points_moves_the_account():
    winner, loser = CustomerFactory(), CustomerFactory()
    award(loser, 40)
    merge_customers(winner=winner, loser=loser, reason="同一人物")
    assert balance_of(winner) == 40 and not PointAccount.objects.filter(customer=loser).exists()


# --- Expiry and tiers -----------------------------------------------------------------------------


def test_expiry_expires_lots_past_their_date_once():
    customers = [CustomerFactory() for _ in range(3)]
    for customer in customers:
        award(customer, 100)
    redeem_points(customer=customers[0], points=30, channel="store")
    PointLot.objects.filter(account__customer__in=customers[:2]).update(
        expires_at=timezone.now() - dt.timedelta(days=1)
    )
    assert expire_points(batch_size=1) == {"accounts": 2, "lots": 2, "points": 170}
    assert expire_points() == {"accounts": 0, "lots": 0, "points": 0}
    assert [balance_of(c) for c in customers] == [0, 0, 100]
    assert PointTransaction.objects.filter(kind="expire").count() == 2
    assert_ledger_agrees()


def test_tiers_follow_twelve_month_spend_and_changes_are_recorded():
    customer, other = CustomerFactory(), CustomerFactory()
    sell(customer, price=60000, ref="A")
    sell(customer, price=100000, ref="OLD", ordered_at=timezone.now() - dt.timedelta(days=400))
    sell(other, price=1000, ref="B")
    assert recalculate_tiers() == 1
    assert PointAccount.objects.get(customer=customer).tier.code == "silver"
    change = TierChange.objects.get()
    assert (change.from_tier.code, change.to_tier.code, change.spend) == ("regular", "silver", 60000)
    assert recalculate_tiers() == 0
    assert customer_balance(customer).tier.code == "silver"


def test_check_points_lists_accounts_that_disagree(capsys):
    customer = CustomerFactory()
    award(customer, 10)
    call_command("check_points")
    PointAccount.objects.filter(customer=customer).update(balance=11)
    with pytest.raises(Exception, match="1 point account"):
        call_command("check_points")
    assert customer.public_id in capsys.readouterr().out


def test_points_liability_command_prints_outstanding_points_by_month(capsys):
    award(CustomerFactory(), 1234)
    call_command("points_liability")
    out = capsys.readouterr().out
    assert "1,234" in out and "total" in out


def test_earning_for_past_orders_in_bulk_gives_what_the_order_step_gives():
    """earn_points_for_orders (bulk-loaded history, the demo) writes exactly what each order's own
    step wrote: points, per-line shares, lots and their expiry, order figures, balances."""
    gold = CustomerFactory()
    PointAccount.objects.create(customer=gold, tier=Tier.objects.get(code="gold"))
    plain = CustomerFactory()
    now = timezone.now()
    PointCampaign.objects.create(name="ダブルポイント", multiplier=Decimal(2), category="outerwear",
                                 starts_at=now - dt.timedelta(days=3), ends_at=now + dt.timedelta(days=1))  # fmt: skip
    store = StoreFactory(code="SHIBUYA")
    coat, scarf = ProductFactory(sku="COAT", category="outerwear"), ProductFactory(sku="SCARF", category="accessories")
    for n, (customer, days) in enumerate([(gold, 1), (gold, 5), (plain, 2), (plain, 40), (None, 1)]):
        record_order(
            source="pos", external_ref=f"B-{n}", channel="store", store=store,
            ordered_at=now - dt.timedelta(days=days), customer=customer,
            lines=[{"product": coat, "quantity": 1, "unit_price": 12345 + n},
                   {"product": scarf, "quantity": 3, "unit_price": 999}],
        )  # fmt: skip

    def state():
        txns = PointTransaction.objects.filter(kind="earn").order_by("reference")
        return {
            "txns": list(txns.values_list("reference", "points", "detail", "channel", "store_id", "account_id")),
            "lots": list(
                PointLot.objects.order_by("earned_by__reference").values_list("points", "remaining", "expires_at")
            ),
            "orders": list(Order.objects.order_by("external_ref").values_list("external_ref", "points_earned")),
            "accounts": list(PointAccount.objects.order_by("pk").values_list("balance", "lifetime_spend")),
        }

    by_the_order_step = state()
    assert len(by_the_order_step["txns"]) == 4  # the guest earns nothing
    PointLot.objects.all().delete()
    PointTransaction.objects.all().delete()
    PointAccount.objects.update(balance=0, lifetime_spend=0)
    Order.objects.update(points_earned=0)

    assert earn_points_for_orders(orders=Order.objects.all()) == {
        "orders": 4, "points": sum(points for _, points, *_ in by_the_order_step["txns"]),
    }  # fmt: skip
    assert state() == by_the_order_step
    assert earn_points_for_orders(orders=Order.objects.all()) == {"orders": 0, "points": 0}
    assert state() == by_the_order_step
