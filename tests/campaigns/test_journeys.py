import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from campaigns.models import CampaignRecipient, Coupon, JourneyEnrollment, JourneyMessage, MailPreference, Suppression
from campaigns.services.journeys import run_journey, save_journey, update_mail_preferences
from crm.models import Customer, Order
from inventory.models import Reservation
from loyalty.models import PointLot

from .coupon_support import make_offer
from .factories import CampaignFactory, CustomerFactory, ProductFactory, StoreFactory, make_order
from .journey_support import MAIL, NOON, at, make_journey

pytestmark = pytest.mark.django_db


def created(days_ago=1, **fields):
    customer = CustomerFactory(**fields)
    Customer.objects.filter(pk=customer.pk).update(created_at=NOON - dt.timedelta(days=days_ago))
    customer.refresh_from_db()
    return customer


def test_welcome_mail_goes_once_to_customers_who_joined_since_the_journey_started():
    journey = make_journey()
    new = created(days_ago=1, email_opt_in=True)
    created(days_ago=60, email_opt_in=True)  # joined before the journey went live
    assert run_journey(journey=journey, now=NOON)["entered"] == 1
    assert [m.to for m in mail.outbox] == [[new.email]]
    assert mail.outbox[0].subject == f"{new.family_name}様へ"
    assert "/campaigns/p/" in mail.outbox[0].body and "/campaigns/u/" in mail.outbox[0].body
    assert "List-Unsubscribe" in mail.outbox[0].extra_headers
    assert run_journey(journey=journey, now=at(hours=1)) == {"entered": 0, "goal_reached": 0, "steps": 0}
    assert len(mail.outbox) == 1
    enrollment = JourneyEnrollment.objects.get()
    assert enrollment.state == JourneyEnrollment.State.COMPLETED


def test_a_large_audience_enters_over_several_runs_each_customer_once(settings):
    settings.CAMPAIGNS_JOURNEY_ENTER_PER_RUN = 2
    journey = make_journey()
    customers = [created(days_ago=1, email_opt_in=True) for _ in range(5)]
    entered = [run_journey(journey=journey, now=at(minutes=10 * n))["entered"] for n in range(4)]
    assert entered == [2, 2, 1, 0]
    assert sorted(JourneyEnrollment.objects.values_list("customer_id", flat=True)) == sorted(c.pk for c in customers)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)


def test_a_series_waits_between_its_mails():
    journey = make_journey(steps=[MAIL, {"kind": "wait", "wait_days": 3}, {**MAIL, "subject": "二通目"}])
    created(days_ago=1, email_opt_in=True)
    run_journey(journey=journey, now=NOON)
    run_journey(journey=journey, now=at(days=2))
    assert len(mail.outbox) == 1
    run_journey(journey=journey, now=at(days=3, hours=1))
    assert [m.subject for m in mail.outbox][1] == "二通目"
    run_journey(journey=journey, now=at(days=4))
    assert len(mail.outbox) == 2


def test_birthday_month_enters_once_a_year():
    journey = make_journey("birthday_month")
    june = CustomerFactory(birth_date=dt.date(1990, 6, 25), email_opt_in=True)
    CustomerFactory(birth_date=dt.date(1990, 7, 1), email_opt_in=True)
    CustomerFactory(birth_date=None, email_opt_in=True)
    run_journey(journey=journey, now=NOON)
    run_journey(journey=journey, now=at(days=5))
    assert [m.to for m in mail.outbox] == [[june.email]]
    run_journey(journey=journey, now=at(days=365))
    assert len(mail.outbox) == 2
    assert set(JourneyEnrollment.objects.values_list("occasion", flat=True)) == {"birthday-2026", "birthday-2027"}


def test_win_back_after_n_days_without_a_purchase_and_again_after_the_next_lapse():
    journey = make_journey("no_purchase", trigger_days=180, stop_on_purchase=False)
    lapsed, recent = CustomerFactory(email_opt_in=True), CustomerFactory(email_opt_in=True)
    make_order(lapsed, at=NOON - dt.timedelta(days=200))
    make_order(recent, at=NOON - dt.timedelta(days=20))
    run_journey(journey=journey, now=NOON)
    assert [m.to for m in mail.outbox] == [[lapsed.email]]
    make_order(lapsed, at=NOON + dt.timedelta(days=10))
    run_journey(journey=journey, now=at(days=100))
    assert len(mail.outbox) == 1
    run_journey(journey=journey, now=at(days=200))
    assert sorted(m.to[0] for m in mail.outbox) == sorted([lapsed.email, lapsed.email, recent.email])


def test_review_request_n_days_after_an_order_recorded_since_the_journey_started():
    journey = make_journey("order_recorded", trigger_days=7, stop_on_purchase=False)
    customer = CustomerFactory(email_opt_in=True)
    old = make_order(customer, at=NOON - dt.timedelta(days=8))
    Order.objects.filter(pk=old.pk).update(created_at=NOON - dt.timedelta(days=40))  # before the journey
    order = make_order(customer, at=NOON - dt.timedelta(days=8))
    Order.objects.filter(pk=order.pk).update(created_at=NOON - dt.timedelta(days=8))
    fresh = make_order(customer, at=NOON - dt.timedelta(days=2))
    Order.objects.filter(pk=fresh.pk).update(created_at=NOON - dt.timedelta(days=2))
    run_journey(journey=journey, now=NOON)
    assert list(JourneyEnrollment.objects.values_list("occasion", flat=True)) == [order.public_id]
    assert len(mail.outbox) == 1


def test_points_expiring_reminder_once_per_expiry_month():
    journey = make_journey("points_expiring", trigger_days=30)
    from tests.loyalty.factories import award

    soon, later = CustomerFactory(email_opt_in=True), CustomerFactory(email_opt_in=True)
    award(soon, 500)
    award(later, 500)
    PointLot.objects.filter(account__customer=soon).update(expires_at=NOON + dt.timedelta(days=10))
    PointLot.objects.filter(account__customer=later).update(expires_at=NOON + dt.timedelta(days=90))
    run_journey(journey=journey, now=NOON)
    run_journey(journey=journey, now=at(days=1))
    assert [m.to for m in mail.outbox] == [[soon.email]]


def test_try_on_without_a_purchase_gets_a_follow_up_and_a_buyer_does_not():
    journey = make_journey("try_on_no_purchase", trigger_days=3, stop_on_purchase=False)
    store, product = StoreFactory(), ProductFactory()
    tried, bought = CustomerFactory(email_opt_in=True), CustomerFactory(email_opt_in=True)
    for customer in (tried, bought):
        Reservation.objects.create(
            kind=Reservation.Kind.TRY_ON, status=Reservation.Status.FULFILLED, customer=customer, store=store,
            product=product, quantity=1, pickup_code="123456", slot_start=NOON - dt.timedelta(days=4),
            expires_at=NOON - dt.timedelta(days=4),
        )  # fmt: skip
    make_order(bought, at=NOON - dt.timedelta(days=3))
    run_journey(journey=journey, now=NOON)
    assert [m.to for m in mail.outbox] == [[tried.email]]


def test_segment_filter_and_segment_entered():
    from .factories import SegmentFactory

    osaka = SegmentFactory(rules={"all": [{"field": "prefecture", "op": "eq", "value": "大阪府"}]})
    journey = make_journey("segment_entered", segment=osaka)
    CustomerFactory(email_opt_in=True)
    in_osaka = CustomerFactory(email_opt_in=True, prefecture="大阪府")
    run_journey(journey=journey, now=NOON)
    run_journey(journey=journey, now=at(days=1))
    assert [m.to for m in mail.outbox] == [[in_osaka.email]]


def test_a_purchase_ends_the_journey_before_the_next_mail():
    journey = make_journey(steps=[MAIL, {"kind": "wait", "wait_days": 3}, MAIL])
    customer = created(email_opt_in=True)
    run_journey(journey=journey, now=NOON)
    make_order(customer, at=at(days=1))
    assert run_journey(journey=journey, now=at(days=4))["goal_reached"] == 1
    assert len(mail.outbox) == 1
    assert JourneyEnrollment.objects.get().state == JourneyEnrollment.State.GOAL_REACHED


def test_no_mail_in_quiet_hours_it_waits_for_the_morning(settings):
    settings.CAMPAIGNS_QUIET_HOURS = (21, 8)
    journey = make_journey()
    created(email_opt_in=True)
    night = dt.datetime(2026, 6, 10, 13, 30, tzinfo=dt.UTC)  # 22:30 in Tokyo
    run_journey(journey=journey, now=night)
    assert mail.outbox == []
    enrollment = JourneyEnrollment.objects.get()
    assert enrollment.next_at == dt.datetime(2026, 6, 10, 23, 0, tzinfo=dt.UTC)  # 08:00 in Tokyo
    run_journey(journey=journey, now=dt.datetime(2026, 6, 10, 22, 0, tzinfo=dt.UTC))  # 07:00
    assert mail.outbox == []
    run_journey(journey=journey, now=dt.datetime(2026, 6, 10, 23, 5, tzinfo=dt.UTC))
    assert len(mail.outbox) == 1


def test_the_weekly_cap_counts_campaign_mails_and_delays_the_journey_mail(settings):
    settings.CAMPAIGNS_WEEKLY_CAP = 2
    journey = make_journey()
    customer = created(email_opt_in=True)
    for _ in range(2):
        CampaignRecipient.objects.create(
            campaign=CampaignFactory(), customer=customer, email=customer.email, state="sent",
            sent_at=NOON - dt.timedelta(days=2),
        )  # fmt: skip
    run_journey(journey=journey, now=NOON)
    assert mail.outbox == []
    run_journey(journey=journey, now=at(days=5, hours=1))  # the campaign mails are a week old
    assert len(mail.outbox) == 1


def test_customers_without_consent_or_on_the_suppression_list_are_recorded_not_mailed():
    journey = make_journey()
    created(email_opt_in=False)
    listed = created(email_opt_in=True)
    Suppression.objects.create(email=listed.email, reason="hard_bounce")
    run_journey(journey=journey, now=NOON)
    assert mail.outbox == []
    assert sorted(JourneyMessage.objects.values_list("state", "suppressed_reason")) == [
        ("suppressed", "not_opted_in"), ("suppressed", "suppression_list"),
    ]  # fmt: skip


def test_the_hold_out_group_gets_nothing_but_is_recorded():
    journey = make_journey(holdout_percent=50)
    for _ in range(20):
        created(email_opt_in=True)
    run_journey(journey=journey, now=NOON)
    held = JourneyMessage.objects.filter(state="holdout").count()
    assert 0 < held < 20
    assert len(mail.outbox) == 20 - held


def test_a_coupon_step_issues_one_code_and_the_next_mail_prints_it():
    offer = make_offer(valid_until=NOON + dt.timedelta(days=60), valid_from=NOON - dt.timedelta(days=60))
    journey = make_journey(steps=[{"kind": "coupon", "offer": offer}, MAIL])
    customer = created(email_opt_in=True)
    run_journey(journey=journey, now=NOON)
    run_journey(journey=journey, now=at(days=1))
    coupon = Coupon.objects.get()
    assert coupon.customer == customer and coupon.offer == offer
    assert f"クーポン {coupon.code[:4]}-" in mail.outbox[0].body


class Boom(Exception):
    pass


class DyingConnection:
    """A worker that dies while handing the mail over."""

    def send_messages(self, messages):
        raise Boom

    def open(self):
        pass

    def close(self):
        pass


def test_a_worker_killed_while_sending_leaves_the_step_for_the_next_run_which_sends_it_once():
    journey = make_journey()
    created(email_opt_in=True)
    with pytest.raises(Boom):
        run_journey(journey=journey, now=NOON, mail_connection=DyingConnection())
    assert JourneyMessage.objects.count() == 0 and JourneyEnrollment.objects.get().position == 1
    run_journey(journey=journey, now=at(hours=1))
    run_journey(journey=journey, now=at(hours=2))
    assert len(mail.outbox) == 1 and JourneyMessage.objects.get().state == "sent"


def test_preferences_leave_out_a_topic():
    journey = make_journey()
    customer = created(email_opt_in=True)
    update_mail_preferences(customer=customer, topics=[MailPreference.Topic.NEWS], max_per_week=None)
    run_journey(journey=journey, now=NOON)
    assert mail.outbox == []
    assert JourneyMessage.objects.get().suppressed_reason == "preferences"


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ([], "steps"),
        ([{"kind": "sms"}], "steps.0.kind"),
        ([MAIL, {"kind": "wait", "wait_days": 0}], "steps.1.wait_days"),
        ([{"kind": "coupon"}], "steps.0.offer"),
        ([{**MAIL, "subject": "{% if %}"}], "steps.0.subject"),
        ([{**MAIL, "body_text": ""}], "steps.0.body_text"),
    ],
)
def test_a_journey_with_a_bad_step_names_it_and_is_not_saved(steps, field):
    from campaigns.models import Journey

    journey = Journey(name="x", trigger="customer_created", from_email="Shop <news@shop.example>")
    with pytest.raises(ValidationError) as error:
        save_journey(journey=journey, steps=steps)
    assert field in error.value.message_dict
    assert Journey.objects.count() == 0


def test_a_journey_with_a_bad_sender_or_missing_segment_is_refused():
    from campaigns.models import Journey

    with pytest.raises(ValidationError) as error:
        save_journey(journey=Journey(name="x", trigger="segment_entered", from_email="nobody"), steps=[MAIL])
    assert {"from_email", "segment"} <= set(error.value.message_dict)


def test_a_merge_moves_coupons_and_journey_mails_to_the_survivor():
    from crm.services.merges import merge_customers

    from .coupon_support import make_coupon

    journey = make_journey()
    loser = created(email_opt_in=True)
    winner = CustomerFactory()
    run_journey(journey=journey, now=NOON)
    coupon = make_coupon(customer=loser)
    merge_customers(winner=winner, loser=loser, reason="同一人物")
    assert Coupon.objects.get(pk=coupon.pk).customer == winner
    assert JourneyMessage.objects.get().customer == winner


def test_steps_cannot_change_while_customers_are_in_the_journey():
    from campaigns.services.journeys import pause_journey
    from crm.exceptions import InvalidState

    journey = make_journey(steps=[{"kind": "wait", "wait_days": 5}, MAIL])
    created(email_opt_in=True)
    run_journey(journey=journey, now=NOON)
    journey = pause_journey(journey=journey)
    with pytest.raises(InvalidState):
        save_journey(journey=journey, steps=[MAIL])
    assert journey.steps.count() == 2


def test_the_hold_out_is_spread_over_consecutive_customers_and_differs_by_journey():
    """Twenty sign-ups in a row, half held out: about ten of them, not a block, and not the same
    customers in every journey."""
    first, second = (make_journey(holdout_percent=50, name=name) for name in ("a", "b"))
    for _ in range(20):
        created(days_ago=1, email_opt_in=True)
    for journey in (first, second):
        run_journey(journey=journey, now=NOON)
    held = {
        journey.pk: set(JourneyEnrollment.objects.filter(journey=journey, holdout=True).values_list("customer_id",
                                                                                                    flat=True))
        for journey in (first, second)
    }  # fmt: skip
    assert all(7 <= len(customers) <= 13 for customers in held.values()), held
    assert held[first.pk] != held[second.pk]
