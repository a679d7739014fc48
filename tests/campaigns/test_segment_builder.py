"""The segment builder's server side: the pickers' value lists, values checked against them (a typo is
refused in words, not silently 0), problems said in words, and the live count's opted-in/suppressed split."""

import json

import pytest
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import Segment, Suppression
from campaigns.segment_catalogue import describe_errors, field_catalogue
from campaigns.segments import preview_segment_reach
from tests.crm.factories import UserFactory
from tests.mfa import login_as

from .factories import CustomerFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(client):
    login_as(client, UserFactory(role="marketer"))
    return client


def _preview(client, rules) -> str:
    response = client.post("/campaigns/segments/preview/", {"rules": json.dumps(rules)}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_pickers_search_stores_categories_brands_and_skus(marketer):
    StoreFactory(code="SHB", name="渋谷店")
    StoreFactory(code="UMD", name="梅田店")
    ProductFactory(sku="COAT-1", name="Wool coat", category="outerwear", brand="Nord")
    ProductFactory(sku="TEE-1", name="T-shirt", category="tops", brand="Sora")

    def values(source, q=""):
        response = marketer.get(f"/campaigns/segments/values/{source}/", {"q": q})
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        return response.json()["results"]

    assert values("store", "渋谷") == [{"value": "SHB", "label": "渋谷店 (SHB)"}]
    assert [r["value"] for r in values("store")] == ["SHB", "UMD"]
    assert values("category", "OUTER") == [{"value": "outerwear", "label": "outerwear"}]
    assert values("brand", "no") == [{"value": "Nord", "label": "Nord"}]
    assert values("sku", "coat") == [{"value": "COAT-1", "label": "COAT-1 Wool coat"}]
    assert values("prefecture", "東京") == [{"value": "東京都", "label": "東京都"}]
    assert values("category", "x" * 500) == []  # long input is cut, not an error
    assert marketer.get("/campaigns/segments/values/shoe_size/").status_code == 404


def test_picker_values_need_the_marketer_role(client):
    assert client.get("/campaigns/segments/values/store/").status_code == 302
    login_as(client, UserFactory(role="store_staff"))
    assert client.get("/campaigns/segments/values/store/").status_code == 403


def test_a_typo_in_a_category_is_refused_in_words_and_nothing_is_saved(marketer):
    ProductFactory(category="outerwear")
    typo = {"all": [{"field": "purchased", "op": "eq", "value": True, "category": "outer"}]}
    body = _preview(marketer, typo)
    assert "<strong>Condition 1 (Bought) › Category</strong>" in body
    assert "Unknown category: “outer”. Choose one from the list." in body
    assert 'class="segment-count"' not in body
    response = marketer.post("/campaigns/segments/new/", {"name": "Coats", "rules": json.dumps(typo)})
    assert response.status_code == 400 and "Unknown category: “outer”" in response.content.decode()
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    ("condition", "thing"),
    [
        ({"field": "prefecture", "op": "eq", "value": "東京"}, "prefecture"),
        ({"field": "home_store", "op": "in", "value": ["SHB", "NOPE"]}, "store"),
        ({"field": "purchased", "op": "eq", "value": True, "brand": "Nrod"}, "brand"),
        ({"field": "purchased", "op": "eq", "value": False, "sku": "coat-1"}, "product (SKU)"),
        ({"field": "tier", "op": "eq", "value": "platinum-x"}, "tier"),
    ],
)
def test_unknown_values_of_every_picked_kind_are_refused(marketer, condition, thing):
    StoreFactory(code="SHB")
    ProductFactory(sku="COAT-1", brand="Nord")
    body = _preview(marketer, {"all": [{"field": "age", "op": "gte", "value": 20}, {"not": condition}]})
    assert f"Unknown {thing}: " in body and "Condition 2 (" in body


def test_in_with_one_value_counts(marketer):
    CustomerFactory(prefecture="東京都")
    CustomerFactory(prefecture="大阪府")
    body = _preview(marketer, {"all": [{"field": "prefecture", "op": "in", "value": ["東京都"]}]})
    assert '<strong class="segment-count">1</strong>' in body


def test_live_count_splits_opted_in_and_suppressed(marketer, django_assert_num_queries):
    CustomerFactory(prefecture="東京都", email_opt_in=True, email="yes@example.com")
    CustomerFactory(prefecture="東京都", email_opt_in=False, email="no@example.com")
    CustomerFactory(prefecture="東京都", email_opt_in=True, email="")
    CustomerFactory(prefecture="東京都", email_opt_in=True, email="gone@example.com")
    CustomerFactory(prefecture="大阪府", email_opt_in=True)
    Suppression.objects.create(email="gone@example.com", reason=Suppression.Reason.UNSUBSCRIBED)
    rules = {"all": [{"field": "prefecture", "op": "eq", "value": "東京都"}]}
    with django_assert_num_queries(1):  # the counts are windows of the query that takes the sample
        preview = preview_segment_reach(rules)
    assert (preview.count, preview.mailable, preview.suppressed, len(preview.sample)) == (4, 1, 3, 4)
    body = _preview(marketer, rules)
    assert '<dd class="segment-mailable num">1</dd>' in body and '<dd class="segment-suppressed num">3</dd>' in body


def test_nested_problems_are_placed_in_words():
    rules = {
        "all": [
            {"field": "age", "op": "gte", "value": 20},
            {"any": [{"not": {"field": "age", "op": "in", "value": 3}}, {"field": "spend", "op": "gte", "value": -1}]},
            {"any": []},
        ]
    }
    errors = {
        "rules.all.1.any.0.not.op": ["Use one of: gte, lte."],
        "rules.all.1.any.1.value": ["Expected a whole number from 0 to 1000000000000."],
        "rules.all.2.any": ["Expected a non-empty list of rules."],
    }
    with translation.override("en"):
        described = {d["path"]: (d["where"], d["message"]) for d in describe_errors(rules, errors)}
    assert described == {
        "rules.all.1.any.0.not.op": ("Group 2 › Condition 1 (Age)", "Choose one of: at least, at most."),
        "rules.all.1.any.1.value": (
            "Group 2 › Condition 2 (Spend (yen))",
            "Expected a whole number from 0 to 1000000000000.",
        ),
        "rules.all.2.any": ("Group 3", "This group is empty: add a condition to it or remove it."),
    }
    with translation.override("en"):
        assert describe_errors({"all": []}, {"rules.all": ["x"]})[0]["message"] == "Add at least one condition."


def test_the_catalogue_names_fields_and_comparisons_in_words_in_japanese():
    with translation.override("ja"):
        catalogue = field_catalogue()
    fields = {f["name"]: f for f in catalogue["fields"]}
    assert fields["prefecture"]["label"] == "都道府県" and fields["prefecture"]["source"] == "prefecture"
    assert [op["label"] for op in fields["age"]["ops"]] == ["以上", "以下"]
    assert {f["name"]: f["source"] for f in fields["purchased"]["filters"]}["category"] == "category"
    labels = [f["label"] for f in catalogue["fields"]] + [op["label"] for f in catalogue["fields"] for op in f["ops"]]
    assert not {"eq", "in", "gte", "lte", "prefecture", "home_store"} & set(labels)


def test_the_api_refuses_an_unknown_value_by_its_path(api):
    response = api("campaigns:write").post(
        "/api/v1/segments/",
        {"name": "Coats", "rules": {"all": [{"field": "purchased", "op": "eq", "value": True, "category": "outer"}]}},
        format="json",
    )
    assert response.status_code == 400 and "rules.all.0.category" in response.json()["errors"]
    assert not Segment.objects.exists()


def test_builder_page_has_no_field_table_of_codes(marketer):
    body = marketer.get("/campaigns/segments/new/").content.decode()
    assert 'id="segment-builder"' in body and "js/segment_builder.js" in body
    assert "<code>prefecture</code>" not in body and "key=value" not in body


_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12)
_keys = st.sampled_from(["all", "any", "not", "field", "op", "value", "category", "sku", "within_days", "channel"])
_fields = st.sampled_from(["prefecture", "home_store", "tier", "purchased", "age", "birthday_month", "open_ticket"])
_json = st.recursive(
    _scalars | _fields,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@given(rules=_json)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_rule_tree_makes_a_server_error_or_shows_a_path(marketer, rules):
    response = marketer.post("/campaigns/segments/preview/", {"rules": json.dumps(rules)})
    assert response.status_code == 200
    body = response.content.decode()
    assert ("segment-count" in body) != ("segment-errors" in body)
    assert "rules.all." not in body.replace('data-path="rules', "")
