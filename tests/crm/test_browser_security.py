"""In a real browser, under the Content-Security-Policy: an admin signs in with a password and a
TOTP code, and every kind of page works — staff pages with htmx, the segment builder's script, the
campaign preview, the admin and Swagger UI — with no CSP violation reported by Chromium."""

import pytest

from tests.campaigns.factories import CampaignFactory
from tests.channels_hub.factories import MessageFactory, TicketFactory
from tests.crm.factories import CustomerFactory, UserFactory
from tests.crm.test_browser import PASSWORD, chromium_page, playwright_api, screenshot
from tests.mfa import enable_totp, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_admin_signs_in_with_totp_and_every_page_works_under_the_policy(live_server):
    expect = playwright_api.expect
    admin = UserFactory(email="boss@tsunagu.example", role="admin", language="en")
    secret = enable_totp(admin)
    customer = CustomerFactory(family_name="Tanaka", given_name="Hanako")
    ticket = TicketFactory(customer=customer)
    MessageFactory(ticket=ticket)
    campaign = CampaignFactory(name="Winter")
    violations: list[str] = []

    with chromium_page() as page:
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{live_server.url}/admin/")
        expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/admin/")
        page.get_by_label("Email").fill(admin.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign In").click()
        page.get_by_placeholder("Code").fill(totp_code(secret))
        page.get_by_role("button", name="Sign In").click()
        expect(page).to_have_url(f"{live_server.url}/admin/")
        expect(page.locator("#site-name")).to_be_visible()

        page.goto(f"{live_server.url}/customers/")
        page.get_by_role("searchbox").press_sequentially("Tanaka", delay=30)
        expect(page.locator("#search-results").get_by_role("link", name="Tanaka Hanako")).to_be_visible()

        page.goto(f"{live_server.url}/campaigns/segments/new/")
        expect(page.locator("#segment-builder .rule-group")).to_be_visible()  # drawn by static/js, no inline script
        expect(page.locator("#segment-preview .segment-errors")).to_be_visible()  # the live count asked already
        page.goto(f"{live_server.url}/campaigns/{campaign.public_id}/")
        expect(page.frame_locator("#campaign-preview iframe").locator("a").first).to_be_visible()

        page.goto(f"{live_server.url}/hub/tickets/{ticket.public_id}/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()

        page.goto(f"{live_server.url}/admin/crm/customer/")
        expect(page.locator("#result_list")).to_be_visible()
        page.goto(f"{live_server.url}/api/docs/")
        expect(page.get_by_text("Tsunagu API").first).to_be_visible()
        expect(page.locator(".opblock").first).to_be_visible()
        screenshot(page, "api-docs")
    assert violations == []
