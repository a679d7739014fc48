"""Store staff at the counter, in a real browser: log in, type a phone number as the customer says it,
pick the customer from the live results and read their history.

Runs Debian's Chromium (never a downloaded browser). Set BROWSER_SCREENSHOTS=<dir> to keep screenshots."""

import datetime as dt
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.utils import timezone

from crm.models import SalesChannel
from crm.services import record_order
from tests.crm.factories import CustomerFactory, IdentityFactory, ProductFactory, StoreFactory, UserFactory, stock

# Playwright's sync API runs an event loop in this thread; Django's ORM calls here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

playwright_api = pytest.importorskip("playwright.sync_api")

# serialized_rollback: the roles (Groups) come from a data migration, and a transactional test
# would otherwise leave the database without them for the tests that follow.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct-horse-battery"


@contextmanager
def chromium_page():
    """A fresh page in Debian's Chromium. Open it after the test data is written: the sync API
    switches greenlets, and a database connection opened inside would escape the test's teardown."""
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
        context.set_default_timeout(10_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def screenshot(page, name: str) -> None:
    directory = os.environ.get("BROWSER_SCREENSHOTS")
    if directory:
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)


def test_store_staff_finds_a_customer_by_phone_and_reads_their_history(live_server):
    expect = playwright_api.expect
    UserFactory(email="counter@tsunagu.example", role="store_staff", language="en", display_name="Counter Staff")
    shibuya = StoreFactory(code="SHB", name="Shibuya")
    customer = CustomerFactory(
        family_name="Tanaka",
        given_name="Hanako",
        family_name_kana="タナカ",
        given_name_kana="ハナコ",
        phone="+819012345678",
        home_store=shibuya,
    )
    CustomerFactory(family_name="Suzuki", given_name="Ichiro", phone="+819087654321")
    IdentityFactory(customer=customer, channel="ec", external_id="ec-user-777")
    record_order(  # earns the 800 points the EC order below redeems
        source="pos",
        external_ref="POS-900",
        channel=SalesChannel.STORE,
        store=shibuya,
        ordered_at=timezone.now() - dt.timedelta(days=10),
        lines=[{"product": ProductFactory(sku="BAG-1", name="Tote bag"), "quantity": 1, "unit_price": 80000}],
        customer=customer,
    )
    web, coat = StoreFactory(code="WEB", name="Online shop"), ProductFactory(sku="COAT-1", name="Wool coat")
    stock(coat, web, 1)
    record_order(
        source="ec",
        external_ref="EC-1001",
        channel=SalesChannel.EC,
        store=web,
        ordered_at=timezone.now() - dt.timedelta(days=3),
        lines=[{"product": coat, "quantity": 1, "unit_price": 19800}],
        customer=customer,
        redeem_points=800,
    )

    with chromium_page() as page:
        page.goto(f"{live_server.url}/")
        expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
        page.get_by_label("Email").fill("counter@tsunagu.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign In").click()
        expect(page).to_have_url(f"{live_server.url}/customers/")
        expect(page.get_by_role("heading", name="Customer search")).to_be_visible()
        expect(page.locator(".current-user")).to_have_text("Counter Staff")

        # Typed as the customer says it, without pressing Enter: the list updates while typing,
        # in the same page (the marker set here would be gone after a page load).
        page.evaluate("window.stillTheSamePage = true")
        page.get_by_role("searchbox").press_sequentially("090-1234-5678", delay=40)
        result = page.locator("#search-results").get_by_role("link", name="Tanaka Hanako")
        expect(result).to_be_visible()
        expect(page.locator("#search-results")).to_contain_text("•••••••5678")  # masked for store staff
        expect(page.locator("#search-results")).not_to_contain_text("Suzuki")
        expect(page).to_have_url(f"{live_server.url}/customers/?q=090-1234-5678")
        assert page.evaluate("window.stillTheSamePage") is True
        screenshot(page, "search")

        result.click()
        expect(page).to_have_url(f"{live_server.url}/customers/{customer.public_id}/")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Tanaka Hanako")
        orders = page.locator("#panel-orders")
        expect(orders).to_contain_text("Online shop")
        expect(orders).to_contain_text("Wool coat")
        expect(orders).to_contain_text("¥19,000")
        expect(orders.locator(".badge.sale-online")).to_have_text("EC")
        expect(page.locator("#panel-identities")).to_contain_text("ec-user-777")
        screenshot(page, "customer")
