import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.segments import compile_rules, preview_segment, segment_customers, validate_rules
from crm.models import ChannelIdentity

from .factories import CustomerFactory, ProductFactory, StoreFactory, make_order

pytestmark = pytest.mark.django_db


AGE = {"field": "age", "op": "gte", "value": 1}


def ids(rules):
    return set(segment_customers(rules).values_list("public_id", flat=True))


def test_profile_fields_prefecture_home_store_age_birthday_and_consent():
    shibuya = StoreFactory(code="SHIBUYA")
    tokyo = CustomerFactory(prefecture="東京都", home_store=shibuya, birth_date=dt.date(1980, 3, 10))
    osaka = CustomerFactory(
        prefecture="大阪府", birth_date=timezone.localdate() - dt.timedelta(days=365 * 18), email_opt_in=False
    )
    assert ids({"field": "prefecture", "op": "in", "value": ["東京都", "神奈川県"]}) == {tokyo.public_id}
    assert ids({"field": "prefecture", "op": "eq", "value": "大阪府"}) == {osaka.public_id}
    assert ids({"field": "home_store", "op": "eq", "value": "SHIBUYA"}) == {tokyo.public_id}
    assert ids({"field": "age", "op": "gte", "value": 40}) == {tokyo.public_id}
    assert ids({"field": "age", "op": "lte", "value": 20}) == {osaka.public_id}
    assert ids({"field": "birthday_month", "op": "eq", "value": 3}) == {tokyo.public_id}
    assert ids({"field": "email_opt_in", "op": "eq", "value": False}) == {osaka.public_id}


def test_purchase_fields_with_filters():
    coat = ProductFactory(sku="COAT-1", category="outerwear", brand="Nord")
    tee = ProductFactory(sku="TEE-1", category="tops", brand="Sun")
    buyer = CustomerFactory()
    make_order(buyer, product=coat, channel="ec", total=30000, days_ago=10)
    make_order(buyer, product=tee, channel="store", total=3000, days_ago=200)
    old_buyer = CustomerFactory()
    make_order(old_buyer, product=coat, channel="store", total=20000, days_ago=400)
    never = CustomerFactory()

    outerwear_90 = {"field": "purchased", "op": "eq", "value": True, "category": "outerwear", "within_days": 90}
    assert ids(outerwear_90) == {buyer.public_id}
    assert ids({**outerwear_90, "value": False}) == {old_buyer.public_id, never.public_id}
    assert ids({"field": "purchased", "op": "eq", "value": True, "sku": "TEE-1", "channel": "store"}) == {
        buyer.public_id
    }
    assert ids({"field": "purchased", "op": "eq", "value": True, "brand": "Nord", "channel": "ec"}) == {buyer.public_id}
    assert ids({"field": "spend", "op": "gte", "value": 33000}) == {buyer.public_id}
    assert ids({"field": "spend", "op": "lte", "value": 5000}) == {never.public_id}
    assert ids({"field": "spend", "op": "gte", "value": 20000, "within_days": 365}) == {buyer.public_id}
    assert ids({"field": "order_count", "op": "gte", "value": 2}) == {buyer.public_id}
    assert ids({"field": "order_count", "op": "lte", "value": 0}) == {never.public_id}
    assert ids({"field": "purchase_channels", "op": "gte", "value": 2}) == {buyer.public_id}
    assert ids({"field": "days_since_last_purchase", "op": "gte", "value": 365}) == {old_buyer.public_id}
    assert ids({"field": "days_since_last_purchase", "op": "lte", "value": 30}) == {buyer.public_id}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"field": "order_count", "op": "gte", "value": 0}, {"two", "one", "never"}),
        ({"field": "order_count", "op": "gte", "value": 1}, {"two", "one"}),
        ({"field": "order_count", "op": "gte", "value": 2}, {"two"}),
        ({"field": "order_count", "op": "gte", "value": 3}, set()),
        ({"field": "order_count", "op": "lte", "value": 0}, {"never"}),
        ({"field": "order_count", "op": "lte", "value": 1}, {"one", "never"}),
        ({"field": "order_count", "op": "gte", "value": 1, "channel": "ec"}, {"two"}),
        ({"field": "order_count", "op": "lte", "value": 0, "within_days": 30}, {"one", "never"}),
        ({"field": "spend", "op": "gte", "value": 0}, {"two", "one", "never"}),
        ({"field": "spend", "op": "lte", "value": 0}, {"never"}),
        ({"field": "spend", "op": "gte", "value": 1000}, {"two", "one"}),
        ({"field": "purchase_channels", "op": "gte", "value": 0}, {"two", "one", "never"}),
        ({"field": "purchase_channels", "op": "gte", "value": 1}, {"two", "one"}),
        ({"field": "purchase_channels", "op": "gte", "value": 1, "within_days": 30}, {"two"}),
        ({"field": "purchase_channels", "op": "gte", "value": 2}, {"two"}),
        ({"field": "contact_channels", "op": "gte", "value": 0}, {"two", "one", "never"}),
        ({"field": "contact_channels", "op": "gte", "value": 1}, {"one"}),
    ],
)
def test_count_rules_at_their_edges(rule, expected):
    tee = ProductFactory(sku="TEE-1", category="tops")
    people = {"two": CustomerFactory(), "one": CustomerFactory(), "never": CustomerFactory()}
    make_order(people["two"], product=tee, channel="ec", total=3000, days_ago=5)
    make_order(people["two"], product=tee, channel="store", total=2000, days_ago=100)
    make_order(people["one"], product=tee, channel="store", total=1000, days_ago=200)
    ChannelIdentity.objects.create(customer=people["one"], channel="line", external_id="u1")
    names = {c.public_id: name for name, c in people.items()}
    assert {names[i] for i in ids(rule)} == expected
    nobody = {"field": "prefecture", "op": "eq", "value": "沖縄県"}
    assert {names[i] for i in ids({"any": [nobody, rule]})} == expected
    assert {names[i] for i in ids({"not": rule})} == set(people) - expected


def test_groups_all_any_not_and_merged_customers_left_out():
    a = CustomerFactory(prefecture="東京都")
    b = CustomerFactory(prefecture="大阪府")
    merged = CustomerFactory(prefecture="東京都")
    merged.merged_into = a
    merged.save(update_fields=["merged_into"])
    ChannelIdentity.objects.create(customer=b, channel="ec", external_id="x1")
    ChannelIdentity.objects.create(customer=b, channel="line", external_id="x2")
    rules = {
        "any": [
            {"field": "prefecture", "op": "eq", "value": "東京都"},
            {
                "all": [
                    {"field": "contact_channels", "op": "gte", "value": 2},
                    {"not": {"field": "age", "op": "gte", "value": 90}},
                ]
            },
        ]
    }
    assert ids(rules) == {a.public_id, b.public_id}
    assert ids({"not": {"field": "prefecture", "op": "eq", "value": "東京都"}}) == {b.public_id}


def test_a_segment_is_one_query(django_assert_num_queries):
    CustomerFactory.create_batch(3)
    ProductFactory(category="outerwear")
    rules = {
        "all": [
            {"field": "prefecture", "op": "in", "value": ["東京都"]},
            {"field": "purchased", "op": "eq", "value": False, "category": "outerwear", "within_days": 90},
            {"field": "spend", "op": "lte", "value": 100000, "within_days": 365},
        ]
    }
    with django_assert_num_queries(1):
        assert segment_customers(rules).count() == 3
    with django_assert_num_queries(2):  # the preview first checks that the category exists
        count, sample = preview_segment(rules)
    assert count == 3 and len(sample) == 3 and all(s.startswith("cus_") for s in sample)


def test_sample_has_at_most_20_ids():
    CustomerFactory.create_batch(22)
    count, sample = preview_segment({"field": "email_opt_in", "op": "eq", "value": True})
    assert count == 22 and len(sample) == 20
    assert sample == list(segment_customers({"field": "email_opt_in", "op": "eq", "value": True})
                          .order_by("pk").values_list("public_id", flat=True)[:20])  # fmt: skip


def test_preview_of_an_empty_segment():
    CustomerFactory.create_batch(2)
    assert preview_segment({"field": "prefecture", "op": "eq", "value": "沖縄県"}) == (0, [])


@pytest.mark.parametrize(
    ("rules", "errors"),
    [
        ({"all": [{"field": "prefecture", "op": "in", "value": ["東京都"]}, {"field": "nope", "op": "eq", "value": 1}]},
         {"rules.all.1.field"}),
        ({"all": [{"field": "age", "op": "in", "value": 3}]}, {"rules.all.0.op"}),
        ({"all": [{"field": "age", "op": "gte", "value": "30"}]}, {"rules.all.0.value"}),
        ({"all": [{"field": "age", "op": "gte", "value": True}]}, {"rules.all.0.value"}),
        ({"all": [{"field": "email_opt_in", "op": "eq", "value": "yes"}]}, {"rules.all.0.value"}),
        ({"field": "purchased", "op": "eq", "value": True, "within_days": 0}, {"rules.within_days"}),
        ({"field": "purchased", "op": "eq", "value": True, "channel": "fax"}, {"rules.channel"}),
        ({"field": "prefecture", "op": "eq", "value": "東京都", "within_days": 3}, {"rules.within_days"}),
        ({"field": "prefecture", "op": "in", "value": []}, {"rules.value"}),
        ({"field": "birthday_month", "op": "eq", "value": 13}, {"rules.value"}),
        ({"any": []}, {"rules.any"}),
        ({"all": [], "any": []}, {"rules"}),
        ({"not": "x"}, {"rules.not"}),
        ([1, 2], {"rules"}),
        ({"field": "age", "op": "gte"}, {"rules.value"}),
        ({"all": [{"not": {"not": {"not": {"not": {"not": {"not": {"not": AGE}}}}}}}]},
         {"rules.all.0.not.not.not.not.not.not"}),
    ],
)  # fmt: skip
def test_invalid_rules_name_the_path(rules, errors):
    with pytest.raises(ValidationError) as exc:
        validate_rules(rules)
    assert set(exc.value.message_dict) == errors


def test_valid_rules_compile():
    validate_rules({"all": [{"field": "age", "op": "gte", "value": 30}]})
    assert compile_rules({"field": "email_opt_in", "op": "eq", "value": True}) is not None
