"""crm services: customers, merges, orders and returns, as staff and integrations meet them."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from crm.models import ChannelIdentity, Customer, CustomerMerge, Order
from crm.selectors import customer_by_member_number, duplicate_groups, get_customer, resolve_customer
from crm.services import create_customer, merge_customers, record_order, record_return, update_customer
from crm.signals import customers_merged, order_returned

from .factories import CustomerFactory, IdentityFactory, ProductFactory, StoreFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)


def test_create_customer_stamps_consent_with_time_and_source():
    customer = create_customer(family_name="山田", email_opt_in=True, consent_source="store")
    assert customer.email_opt_in_source == "store" and customer.email_opt_in_at is not None
    assert customer.sms_opt_in_at is None


def test_update_only_stamps_consent_when_it_changes():
    customer = create_customer(family_name="山田", email_opt_in=True, consent_source="store")
    stamped = customer.email_opt_in_at
    update_customer(customer=customer, email_opt_in=True, consent_source="ec")
    customer.refresh_from_db()
    assert customer.email_opt_in_at == stamped and customer.email_opt_in_source == "store"
    update_customer(customer=customer, email_opt_in=False, consent_source="ec")
    customer.refresh_from_db()
    assert not customer.email_opt_in and customer.email_opt_in_source == "ec"


def test_create_customer_refuses_unknown_fields():
    with pytest.raises(ValidationError) as exc:
        create_customer(nickname="x")
    assert "nickname" in exc.value.message_dict


def test_merge_moves_identities_and_orders_and_keeps_history():
    store, product = StoreFactory(), ProductFactory()
    staff = UserFactory(role="agent")
    winner = CustomerFactory(email="w@example.jp", phone="", birth_date=None)
    loser = CustomerFactory(email="l@example.jp", phone="+819011112222", birth_date=dt.date(1980, 1, 2))
    IdentityFactory(customer=loser, channel="line", external_id="U-1")
    order, _ = record_order(
        source="pos", external_ref="1", channel="store", store=store, customer=loser, ordered_at=NOW,
        lines=[{"product": product, "quantity": 1, "unit_price": 100}],
    )  # fmt: skip

    merge = merge_customers(winner=winner, loser=loser, reason="同一人物（電話で確認）", actor=staff)

    winner.refresh_from_db()
    loser.refresh_from_db()
    assert loser.merged_into == winner
    assert Customer.objects.count() == 2  # nothing deleted
    assert ChannelIdentity.objects.get(external_id="U-1").customer == winner
    assert Order.objects.get(pk=order.pk).customer == winner
    # per field: the survivor keeps its email, gains the phone and birth date it lacked
    assert winner.email == "w@example.jp"
    assert winner.phone == "+819011112222" and winner.birth_date == dt.date(1980, 1, 2)
    assert merge.moved["identities"] == 1 and merge.moved["orders"] == 1
    assert merge.actor == staff and merge.reason.startswith("同一人物")
    assert merge.field_choices["phone"] == "loser" and merge.field_choices["email"] == "winner"
    # old ids and cards keep resolving to the survivor
    assert get_customer(loser.public_id) == winner
    assert customer_by_member_number(loser.member_number) == winner
    assert resolve_customer(channel="line", external_id="U-1") == winner


def test_merge_with_explicit_choices_keeps_the_chosen_values():
    winner = CustomerFactory(family_name="田中", family_name_kana="タナカ", email="old@example.jp")
    loser = CustomerFactory(family_name="佐藤", family_name_kana="サトウ", email="new@example.jp")
    merge_customers(winner=winner, loser=loser, reason="married name", keep={"name": "loser", "kana": "loser"})
    winner.refresh_from_db()
    assert (winner.family_name, winner.family_name_kana, winner.email) == ("佐藤", "サトウ", "old@example.jp")
    assert winner.search_kana.startswith("サトウ")


def test_merge_keeps_the_more_recent_consent_decision():
    winner = CustomerFactory(email_opt_in=True, email_opt_in_at=NOW - dt.timedelta(days=30))
    loser = CustomerFactory(email_opt_in=False, email_opt_in_at=NOW, email_opt_in_source="unsubscribe")
    merge_customers(winner=winner, loser=loser, reason="same person")
    winner.refresh_from_db()
    assert winner.email_opt_in is False and winner.email_opt_in_source == "unsubscribe"


def test_merge_chains_resolve_in_one_hop():
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    merge_customers(winner=b, loser=a, reason="dup")
    merge_customers(winner=c, loser=b, reason="dup")
    a.refresh_from_db()
    assert a.merged_into == c
    assert get_customer(a.public_id) == c


def test_merge_sends_customers_merged_so_other_apps_move_their_rows():
    calls = []

    def receiver(sender, winner, loser, merge, **kwargs):
        calls.append((winner.pk, loser.pk))
        merge.moved["tickets"] = 3

    customers_merged.connect(receiver)
    try:
        winner, loser = CustomerFactory(), CustomerFactory()
        merge = merge_customers(winner=winner, loser=loser, reason="dup")
    finally:
        customers_merged.disconnect(receiver)
    assert calls == [(winner.pk, loser.pk)]
    assert CustomerMerge.objects.get(pk=merge.pk).moved["tickets"] == 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "x", "keep": {"name": "both"}}, "keep"),
        ({"reason": "x", "keep": {"shoe_size": "loser"}}, "keep"),
    ],
)
def test_bad_merge_requests_are_refused_and_merge_nothing(kwargs, field):
    winner, loser = CustomerFactory(), CustomerFactory()
    with pytest.raises(ValidationError) as exc:
        merge_customers(winner=winner, loser=loser, **kwargs)
    assert field in exc.value.message_dict
    assert not CustomerMerge.objects.exists()
    loser.refresh_from_db()
    assert loser.merged_into is None


def test_a_customer_cannot_be_merged_twice_or_with_itself():
    winner, loser = CustomerFactory(), CustomerFactory()
    with pytest.raises(ValidationError):
        merge_customers(winner=winner, loser=winner, reason="x")
    merge_customers(winner=winner, loser=loser, reason="x")
    with pytest.raises(ValidationError):
        merge_customers(winner=CustomerFactory(), loser=loser, reason="again")
    assert CustomerMerge.objects.count() == 1


def test_duplicates_are_customers_sharing_email_or_phone():
    a = CustomerFactory(email="same@example.jp")
    b = CustomerFactory(email="same@example.jp")
    c = CustomerFactory(phone="+819012340000")
    d = CustomerFactory(phone="+819012340000")
    CustomerFactory()
    groups = {(g.kind, g.value): {x.pk for x in g.customers} for g in duplicate_groups()}
    assert groups == {("email", "same@example.jp"): {a.pk, b.pk}, ("phone", "+819012340000"): {c.pk, d.pk}}
    merge_customers(winner=a, loser=b, reason="dup")
    assert ("email", "same@example.jp") not in {(g.kind, g.value) for g in duplicate_groups()}


def test_order_for_a_merged_customer_goes_to_the_survivor():
    store, product = StoreFactory(), ProductFactory()
    winner, loser = CustomerFactory(), CustomerFactory()
    merge_customers(winner=winner, loser=loser, reason="dup")
    order, _ = record_order(
        source="pos", external_ref="2", channel="store", store=store, customer=loser, ordered_at=NOW,
        lines=[{"product": product, "quantity": 2, "unit_price": 500}],
    )  # fmt: skip
    assert order.customer == winner


def test_return_sends_order_returned_with_the_returned_lines_after_commit(django_capture_on_commit_callbacks):
    store, product = StoreFactory(), ProductFactory(sku="A")
    order, _ = record_order(
        source="pos", external_ref="3", channel="store", store=store, ordered_at=NOW,
        lines=[
            {"product": product, "quantity": 2, "unit_price": 500},
            {"product": product, "quantity": 1, "unit_price": 400},
        ],
    )  # fmt: skip
    seen = []

    def receiver(sender, order, order_return, **kwargs):
        seen.append(sorted((line.order_line.line_number, line.quantity) for line in order_return.lines.all()))

    order_returned.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            order_return = record_return(order=order, lines=[{"sku": "A", "quantity": 3}], reason="defect")
            assert seen == []  # not before the commit
    finally:
        order_returned.disconnect(receiver)
    assert seen == [[(1, 2), (2, 1)]]
    assert order_return.amount == 1400
    order.refresh_from_db()
    assert order.status == "returned"


def test_a_merged_customer_cannot_be_edited():
    from crm.exceptions import InvalidState

    winner, loser = CustomerFactory(), CustomerFactory(given_name="旧")
    merge_customers(winner=winner, loser=loser, reason="dup")
    with pytest.raises(InvalidState):
        update_customer(customer=loser, given_name="新")
    loser.refresh_from_db()
    assert loser.given_name == "旧"


def test_factory_phones_are_numbers_the_services_accept():
    from crm.normalize import parse_phone

    customer = CustomerFactory()
    assert parse_phone(customer.phone) == customer.phone


def test_merge_history_of_the_survivor_includes_earlier_merges_it_absorbed():
    from crm.selectors import customer_merges

    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    first = merge_customers(winner=b, loser=c, reason="c is b")
    second = merge_customers(winner=a, loser=b, reason="b is a")
    assert list(customer_merges(customer=a)) == [second, first]
