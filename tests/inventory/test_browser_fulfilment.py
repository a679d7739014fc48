"""A store clerk works the fulfilment queue in a real browser (Debian's Chromium): puts a
click-and-collect order on the shelf, hands it over against the customer's code."""

import datetime as dt

import pytest
from django.urls import reverse

from crm.models import Order
from crm.services import record_order
from tests.crm.factories import UserFactory
from tests.crm.test_browser import PASSWORD, chromium_page, playwright_api, screenshot

from .factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory, stock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_clerk_prepares_and_hands_over_a_pickup_from_the_queue(live_server):
    expect = playwright_api.expect
    store = StoreFactory(code="SHB", name="Shibuya")
    UserFactory(email="clerk@tsunagu.example", role="store_staff", language="en", store=store)
    coat = ProductFactory(sku="COAT-1", name="Wool coat")
    stock(store, coat, 2)
    order, _ = record_order(
        source="ec", external_ref="EC-1", channel="ec", store=WarehouseFactory(), ordered_at=dt.datetime.now(dt.UTC),
        customer=CustomerFactory(family_name="Tanaka", email="tanaka@example.jp"),
        lines=[{"product": coat, "quantity": 1, "unit_price": 20000}], fulfilment={"type": "pickup", "store": store},
    )  # fmt: skip

    with chromium_page() as page:
        page.goto(f"{live_server.url}{reverse('inventory:fulfilment')}")
        page.get_by_label("Email").fill("clerk@tsunagu.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign In").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Fulfilment queue")
        prepare = page.locator("#to-prepare")
        expect(prepare).to_contain_text(order.public_id)
        expect(prepare).to_contain_text("Wool coat")
        prepare.get_by_role("button", name="On the shelf: tell the customer").click()

        shelf = page.locator("#ready")
        expect(shelf).to_contain_text(order.public_id)
        expect(page.locator("#to-prepare")).not_to_contain_text(order.public_id)
        shelf.get_by_label("Pickup code").fill("WRONG123")
        shelf.get_by_role("button", name="Hand over").click()
        expect(page.locator("main")).to_contain_text("The pickup code does not match this order.")
        expect(page.locator("#ready")).to_contain_text(order.public_id)  # still waiting
        screenshot(page, "fulfilment-wrong-code")

        page.locator("#ready").get_by_label("Pickup code").fill(order.pickup_code.lower())
        page.locator("#ready").get_by_role("button", name="Hand over").click()
        expect(page.locator("#ready")).to_contain_text("The pickup shelf is empty.")
        screenshot(page, "fulfilment-handed-over")
    assert Order.objects.get(pk=order.pk).status == "collected"
