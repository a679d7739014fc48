"""A marketer in a real browser: opens the KPI dashboard, sees the charts drawn by the vendored
Chart.js at a desktop and at a tablet width, and opens a chart's numbers."""

import datetime as dt
import os

import pytest
from django.utils import timezone

from tests.crm.factories import CustomerFactory, StoreFactory, UserFactory
from tests.crm.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, playwright_api, screenshot

from .factories import order

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_marketer_reads_the_dashboard_with_its_charts(live_server):
    expect = playwright_api.expect
    UserFactory(email="marketer@tsunagu.example", role="marketer", language="en")
    store = StoreFactory(code="SHB")
    for i in range(3):
        customer = CustomerFactory(home_store=store)
        order(customer, at=timezone.now() - dt.timedelta(days=2 + i), channel="store", store=store)
        if i:
            order(customer, at=timezone.now() - dt.timedelta(days=1), channel="app")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for width in (1366, 820):
                context = browser.new_context(viewport={"width": width, "height": 1000}, locale="en-US")
                context.set_default_timeout(10_000)
                page = context.new_page()
                page.goto(f"{live_server.url}/insights/")
                page.get_by_label("Email").fill("marketer@tsunagu.example")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign In").click()
                expect(page.get_by_role("heading", name="Omnichannel KPIs")).to_be_visible()
                rate = page.locator('tr[data-figure="cross_channel_purchase_rate"] td.value')
                expect(rate).to_have_text("66.7%")
                # Every chart was drawn by Chart.js on its canvas, from the numbers of its table.
                drawn = page.evaluate(
                    "() => [...document.querySelectorAll('canvas[data-chart]')].map(c => !!Chart.getChart(c))"
                )
                assert drawn == [True] * 6
                page.locator("#chart-spend summary").click()
                expect(page.locator("#table-spend")).to_contain_text("Omnichannel customers")
                screenshot(page, f"insights-{width}")
                context.close()
        finally:
            browser.close()
