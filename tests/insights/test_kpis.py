"""Every KPI against a value computed by hand on a small planted data set, whether the days come from
the daily facts, from the base tables (live), or half and half; with each filter; and no data."""

import datetime as dt

import pytest
from django.utils import timezone

from insights.kpis import FIGURES, kpi_report
from insights.params import Period, Scope
from insights.services import refresh_insights_facts
from tests.channels_hub.factories import LeadFactory
from tests.crm.factories import CustomerFactory, StoreFactory

from .factories import mailed, noon, order, points, reservation, sent_campaign, ticket

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
D = TODAY - dt.timedelta(days=10)  # the period is D-6 … D; the previous one D-13 … D-7
PERIOD = Period(D - dt.timedelta(days=6), D)


def day(n: int) -> dt.datetime:
    """Noon, n days before D."""
    return noon(D - dt.timedelta(days=n))


@pytest.fixture
def planted():
    shibuya = StoreFactory(code="S1", prefecture="東京都")
    umeda = StoreFactory(code="S2", prefecture="大阪府")
    a = CustomerFactory(home_store=shibuya, prefecture="東京都")
    b = CustomerFactory(home_store=shibuya, prefecture="東京都")
    c = CustomerFactory(home_store=umeda, prefecture="大阪府")
    d = CustomerFactory(home_store=None, prefecture="大阪府")
    e = CustomerFactory(home_store=shibuya, prefecture="東京都")
    f = CustomerFactory(home_store=shibuya, prefecture="東京都")
    # Orders in the period.
    order(a, at=day(5), channel="store", total=1000)
    order(a, at=day(3), channel="ec", total=3000, returned=1000)  # spend 2000 after the return
    order(b, at=day(4), channel="store", total=2000)
    order(c, at=day(2), channel="ec", total=5000)
    order(c, at=day(1), channel="app", total=1000)
    order(d, at=day(6), channel="app", total=700)
    order(e, at=day(2), channel="phone", total=900)  # one channel, neither store nor online
    order(f, at=day(2), channel="ec", total=800, returned=800, status="returned")  # not a purchase
    order(None, at=day(2), channel="store", total=10000)  # a guest
    # The previous period: A bought once in store.
    order(a, at=day(10), channel="store", total=500)
    # Tickets opened in the period.
    t1 = ticket(customer=a, at=day(5), channel="email", status="resolved", category="complaint", replies=[30],
                first_response_after=30, csat=5)  # fmt: skip
    ticket(customer=b, at=day(4), channel="line", status="closed", category="delivery", replies=[90, 200],
           first_response_after=90, csat=3)  # fmt: skip
    ticket(customer=c, at=day(3), channel="chat", status="open", category="complaint")
    ticket(lead=LeadFactory(), at=day(2), channel="web_form", status="resolved", replies=[10],
           first_response_after=10)  # fmt: skip
    ticket(customer=a, at=day(1), channel="email", status="resolved")  # resolved without a reply
    ticket(customer=b, at=day(1), channel="email", status="closed", merged_into=t1)  # counted in t1
    ticket(customer=a, at=day(9), channel="email", status="resolved", replies=[20], first_response_after=20, csat=4)
    # Points.
    points(a, at=day(3), kind="earn", points=100, channel="store")
    points(a, at=day(2), kind="redeem", points=-40, channel="ec")
    points(b, at=day(1), kind="expire", points=-25)
    points(c, at=day(2), kind="earn", points=60, channel="ec")
    points(a, at=day(9), kind="earn", points=10, channel="store")
    # Pickups that ended in the period (and one still waiting).
    reservation(a, store=shibuya, status="fulfilled", closed_at=day(3))
    reservation(b, store=shibuya, status="expired", closed_at=day(2))
    reservation(e, store=shibuya, status="cancelled", closed_at=day(1))
    reservation(e, store=shibuya, status="active")
    reservation(c, store=umeda, status="fulfilled", closed_at=day(2))
    reservation(a, store=shibuya, kind="try_on", status="fulfilled", closed_at=day(2))  # not a pickup
    # A campaign mailed in the period: A and B bought within 7 days after their mail, D did not.
    campaign = sent_campaign(started_at=day(6), finished_at=day(5))
    mailed(campaign, a, at=day(6))
    mailed(campaign, b, at=day(5))
    mailed(campaign, d, at=day(5))
    mailed(campaign, e, at=None, state="holdout")
    return {"shibuya": shibuya, "umeda": umeda}


# Hand-computed. Buyers A B C D E (F returned everything, the guest is nobody); A and C bought in two
# order channels. Users: the buyers (A, B and C also wrote); A, B (store + LINE) and C used two.
# Omni: A 1000 + 2000, C 6000 → 9000 / 2. Store only: B 2000. Online only: D 700.
# Tickets A-email, B-line, C-chat, lead-web form, A-email (merged one left out): 4 of 5 resolved; of the
# resolved with a reply (3), 2 had exactly one. First responses 30, 90, 10 → 30. CSAT 5, 3 → 4.
# Pickups ended: 4 (2 collected). Campaign: 2 of 3 mailed bought.
EXPECTED = {
    "cross_channel_purchase_rate": {"value": 0.4, "previous": 0.0},
    "cross_channel_usage_rate": {"value": 0.6, "previous": 1.0},  # A: store and email
    "omni_spend_per_customer": {"value": 4500, "previous": None},
    "store_only_spend_per_customer": {"value": 2000, "previous": 500},
    "online_only_spend_per_customer": {"value": 700, "previous": None},
    "resolution_rate": {"value": 0.8, "previous": 1.0},
    "first_contact_resolution_rate": {"value": 0.6667, "previous": 1.0},
    "median_first_response_minutes": {"value": 30.0, "previous": 20.0},
    "csat_average": {"value": 4.0, "previous": 4.0},
    "points_issued": {"value": 160, "previous": 10},
    "points_redeemed": {"value": 40, "previous": 0},
    "points_expired": {"value": 25, "previous": 0},
    "pickup_rate": {"value": 0.5, "previous": None},
    "campaign_conversion_rate": {"value": 0.6667, "previous": None},
}


@pytest.fixture(params=["live", "facts", "half"])
def mode(request):
    """Where the period's rows come from: base tables only, the daily facts only, or the facts up to
    the middle of the period and the base tables after it."""
    return request.param


def _refresh(mode):
    if mode == "facts":
        refresh_insights_facts()
    elif mode == "half":
        refresh_insights_facts(today=D - dt.timedelta(days=2))  # facts through D-3, live from D-2


def test_every_figure_matches_the_hand_computed_value(planted, mode):
    _refresh(mode)
    report = kpi_report(period=PERIOD, scope=Scope())
    assert list(report.figures) == list(FIGURES)
    assert report.figures == EXPECTED


def test_store_filter_counts_the_customers_of_that_store_and_its_pickups(planted, mode):
    _refresh(mode)
    figures = kpi_report(period=PERIOD, scope=Scope(store=planted["shibuya"])).figures
    # Customers of S1: A (omni, 3000), B (store only, 2000), E (phone). Tickets of A and B.
    assert figures["cross_channel_purchase_rate"]["value"] == round(1 / 3, 4)
    assert figures["omni_spend_per_customer"]["value"] == 3000
    assert figures["store_only_spend_per_customer"]["value"] == 2000
    assert figures["online_only_spend_per_customer"]["value"] is None
    assert figures["resolution_rate"]["value"] == 1.0
    assert figures["first_contact_resolution_rate"]["value"] == 0.5
    assert figures["median_first_response_minutes"]["value"] == 60.0
    assert figures["points_issued"]["value"] == 100
    assert figures["points_expired"]["value"] == 25
    assert figures["pickup_rate"]["value"] == round(1 / 3, 4)
    assert figures["campaign_conversion_rate"]["value"] == 1.0


def test_prefecture_filter(planted, mode):
    _refresh(mode)
    figures = kpi_report(period=PERIOD, scope=Scope(prefecture="大阪府")).figures
    # C (omni, 6000) and D (online only, 700) live in Osaka; the Osaka store's one pickup was collected.
    assert figures["cross_channel_purchase_rate"]["value"] == 0.5
    assert figures["omni_spend_per_customer"]["value"] == 6000
    assert figures["online_only_spend_per_customer"]["value"] == 700
    assert figures["resolution_rate"]["value"] == 0.0
    assert figures["csat_average"]["value"] is None
    assert figures["pickup_rate"]["value"] == 1.0
    assert figures["campaign_conversion_rate"]["value"] == 0.0


def test_channel_filter(planted, mode):
    _refresh(mode)
    figures = kpi_report(period=PERIOD, scope=Scope(channel="ec")).figures
    # Customers who bought on EC: A and C, both omni (F's EC order was returned).
    assert figures["cross_channel_purchase_rate"]["value"] == 1.0
    assert figures["omni_spend_per_customer"]["value"] == 4500
    assert figures["points_issued"]["value"] == 60
    assert figures["points_redeemed"]["value"] == 40
    assert figures["points_expired"]["value"] is None  # expiry has no channel
    assert figures["pickup_rate"]["value"] is None
    email = kpi_report(period=PERIOD, scope=Scope(channel="email")).figures
    assert email["resolution_rate"]["value"] == 1.0  # A's two email tickets
    assert email["first_contact_resolution_rate"]["value"] == 1.0
    assert email["median_first_response_minutes"]["value"] == 30.0
    assert email["csat_average"]["value"] == 5.0
    assert email["cross_channel_usage_rate"]["value"] == 1.0  # A wrote by email and bought in two channels
    assert email["cross_channel_purchase_rate"]["value"] is None  # nobody bought by email


def test_an_empty_period_gives_zeros_and_nulls():
    report = kpi_report(period=Period(dt.date(2020, 1, 1), dt.date(2020, 1, 31)), scope=Scope())
    for name, figure in report.figures.items():
        expected = 0 if name.startswith("points_") else None
        assert figure == {"value": expected, "previous": expected}, name


def test_refreshing_twice_writes_the_same_facts(planted):
    first = refresh_insights_facts(full=True)
    again = refresh_insights_facts()
    assert again.rows == first.rows
    assert first.rows == {"customerchannelday": 14, "ticketfact": 6, "pointsday": 5}
    assert kpi_report(period=PERIOD, scope=Scope()).figures == EXPECTED


def test_a_late_event_reaches_the_figures_at_the_next_refresh(planted):
    refresh_insights_facts()
    assert kpi_report(period=PERIOD, scope=Scope()).figures["csat_average"]["value"] == 4.0
    from channels_hub.models import Ticket

    Ticket.objects.filter(first_channel="web_form").update(csat_score=1)  # the lead answers the survey
    assert kpi_report(period=PERIOD, scope=Scope()).figures["csat_average"]["value"] == 4.0  # facts of the past
    refresh_insights_facts()
    assert kpi_report(period=PERIOD, scope=Scope()).figures["csat_average"]["value"] == 3.0


def test_pickup_orders_count_in_the_pickup_rate_once_each_at_their_store():
    from crm.models import Order
    from crm.services import record_order
    from tests.crm.factories import ProductFactory, WarehouseFactory, stock

    shibuya, umeda = StoreFactory(code="S1", prefecture="東京都"), StoreFactory(code="S2", prefecture="大阪府")
    warehouse, coat, scarf = WarehouseFactory(), ProductFactory(), ProductFactory()
    for store in (shibuya, umeda):
        stock(coat, store, 5)
        stock(scarf, store, 5)
    customer = CustomerFactory()
    made = []
    for i, store in enumerate([shibuya, shibuya, umeda]):
        order, _ = record_order(
            source="ec", external_ref=f"EC-{i}", channel="ec", store=warehouse, ordered_at=day(3), customer=customer,
            lines=[{"product": coat, "quantity": 1, "unit_price": 1000}, {"product": scarf, "quantity": 1,
                                                                          "unit_price": 1000}],
            fulfilment={"type": "pickup", "store": store},
        )  # fmt: skip
        made.append(order)
    # collected, cancelled (not collected in time), collected — all within the period; two lines each
    Order.objects.filter(pk=made[0].pk).update(status="collected", collected_at=day(2))
    Order.objects.filter(pk=made[1].pk).update(status="cancelled", cancelled_at=day(1))
    Order.objects.filter(pk=made[2].pk).update(status="collected", collected_at=day(1))
    assert kpi_report(period=PERIOD, scope=Scope()).figures["pickup_rate"]["value"] == round(2 / 3, 4)
    at_shibuya = kpi_report(period=PERIOD, scope=Scope(store=shibuya)).figures["pickup_rate"]["value"]
    assert at_shibuya == 0.5
    assert kpi_report(period=PERIOD, scope=Scope(channel="ec")).figures["pickup_rate"]["value"] is None
