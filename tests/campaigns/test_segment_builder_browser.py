"""A marketer builds a segment in a real browser with pickers only: a typo in a category is said in
words, picking the real one gives the count with its opted-in/suppressed split, a nested OR group takes
one prefecture, the count follows typing without leaving the box, and the saved rules are the JSON
the API takes. In Japanese the same page shows words, never codes."""

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client

from campaigns.models import Segment
from tests.crm.factories import UserFactory
from tests.crm.test_browser import chromium_page, playwright_api, screenshot

from .factories import CustomerFactory, ProductFactory, SegmentFactory, StoreFactory, make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_marketer_builds_a_nested_segment_with_pickers(live_server):
    expect = playwright_api.expect
    coat = ProductFactory(sku="COAT-1", name="Wool coat", category="outerwear", brand="Nord")
    ProductFactory(sku="TEE-1", name="T-shirt", category="tops")
    older = CustomerFactory(prefecture="東京都", birth_date=dt.date(1980, 1, 1))
    younger = CustomerFactory(prefecture="東京都", birth_date=dt.date(1995, 1, 1), email_opt_in=False)
    osaka = CustomerFactory(prefecture="大阪府")
    CustomerFactory(prefecture="東京都")  # bought nothing
    for customer in (older, younger, osaka):
        make_order(customer, product=coat)
    cookie = _session_cookie(UserFactory(role="marketer", language="en"))

    with chromium_page() as page:
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        page.goto(f"{live_server.url}/campaigns/segments/new/")
        preview = page.locator("#segment-preview")
        expect(preview).to_contain_text("Add at least one condition.")
        page.get_by_label("Name").fill("Outerwear buyers in Tokyo")

        page.get_by_role("button", name="Add condition").click()
        page.get_by_label("Field").select_option(label="Bought")
        category = page.get_by_label("Bought — Category")
        category.fill("outer")
        category.press("Tab")  # a typed value that is not in the list is kept, and refused in words
        expect(preview).to_contain_text("Condition 1 (Bought) › Category: Unknown category: “outer”.")
        expect(page.locator(".rule-cond .rule-error")).to_contain_text("Unknown category: “outer”")

        page.get_by_role("button", name="Remove outer").click()
        page.get_by_label("Bought — Category").fill("outer")
        page.get_by_role("option", name="outerwear").click()
        expect(preview.locator(".segment-count")).to_have_text("3")
        expect(page.locator(".rule-cond .rule-error")).to_be_hidden()

        page.get_by_role("button", name="Add group").first.click()
        group = page.locator(".rule-group.nested")
        group.get_by_label("Field").select_option(label="Prefecture")
        group.get_by_label("Comparison").select_option(label="is one of")
        prefecture = group.get_by_label("Prefecture — Value")
        prefecture.fill("東京")
        page.get_by_role("option", name="東京都").click()
        expect(preview.locator(".segment-count")).to_have_text("2")
        expect(preview.locator(".segment-mailable")).to_have_text("1")
        expect(preview.locator(".segment-suppressed")).to_have_text("1")

        # The count follows typing (400 ms after the last key), without leaving the box.
        group.get_by_role("button", name="Add condition").click()
        group.get_by_label("Field").last.select_option(label="Age")
        age = group.get_by_label("Age — Value")
        age.press_sequentially("40")
        expect(preview.locator(".segment-count")).to_have_text("2")  # any of: Tokyo, or 40 and older
        expect(age).to_be_focused()
        group.get_by_label("Customers who match").select_option(label="All of these (AND)")
        expect(preview.locator(".segment-count")).to_have_text("1")
        assert "rules.all" not in page.locator("main").inner_text()
        screenshot(page, "segment-builder")

        page.get_by_role("button", name="Save segment").click()
        expect(page.locator(".messages")).to_contain_text("Segment saved.")

    segment = Segment.objects.get()
    assert segment.name == "Outerwear buyers in Tokyo"
    assert segment.rules == {
        "all": [
            {"field": "purchased", "op": "eq", "value": True, "category": "outerwear"},
            {
                "all": [
                    {"field": "prefecture", "op": "in", "value": ["東京都"]},
                    {"field": "age", "op": "gte", "value": 40},
                ]
            },
        ]
    }


def test_a_saved_segment_reads_in_japanese_words(live_server):
    expect = playwright_api.expect
    StoreFactory(code="SHB", name="渋谷店")
    CustomerFactory(prefecture="東京都")
    segment = SegmentFactory(
        name="渋谷",
        rules={
            "all": [
                {"field": "home_store", "op": "in", "value": ["SHB"]},
                {"not": {"field": "age", "op": "gte", "value": 60}},
            ]
        },
    )
    cookie = _session_cookie(UserFactory(role="marketer", language="ja"))

    with chromium_page() as page:
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        page.goto(f"{live_server.url}/campaigns/segments/{segment.public_id}/")
        builder = page.locator("#segment-builder")
        expect(builder.locator(".chip")).to_have_text("渋谷店 (SHB)×")
        expect(builder.locator(".rule-match")).to_have_value("all")
        expect(builder).to_contain_text("すべてに該当（AND）")
        expect(builder.locator(".rule-cond.negated")).to_have_count(1)
        expect(page.locator("#segment-preview .segment-count")).to_have_text("0")
        text = page.locator("main").inner_text()
        for code in ("home_store", "gte", " eq ", "rules.", "{"):
            assert code not in text, code
        screenshot(page, "segment-builder-ja")
