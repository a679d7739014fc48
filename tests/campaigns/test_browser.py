"""A marketer previews a campaign in a real browser: whatever its templates or the customer's data
hold, no script runs (not in the page, not in the HTML body's frame), and ordinary HTML renders."""

import pytest

from campaigns.models import Campaign
from tests.crm.factories import UserFactory
from tests.crm.test_browser import PASSWORD, chromium_page, playwright_api, screenshot

from .factories import CampaignFactory, CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Each payload, if it ran, would request a URL containing "__pwned" (seen by the browser context)
# or set window.__pwned / the page title.
BEACON = "fetch('/__pwned/{0}');window.__pwned='{0}';top.document.title='pwned {0}'"
PAYLOADS = [
    "<script>{}</script>".format(BEACON.format("script")),
    '<img src="/nothing.png" onerror="{}">'.format(BEACON.format("onerror")),
    '"><script>{}</script>'.format(BEACON.format("breakout")),
    '<svg onload="{}"></svg>'.format(BEACON.format("svg")),
    '<iframe srcdoc="<script>{}</script>"></iframe>'.format(BEACON.format("nested").replace("'", "&#39;")),
    '<a href="javascript:{}" id="js-link">click</a>'.format(BEACON.format("jslink")),
]


def test_no_script_runs_in_the_preview_whatever_the_template_or_customer(live_server):
    expect = playwright_api.expect
    UserFactory(email="mk@tsunagu.example", role="marketer", language="en")
    # Names fit their 50-character columns, as one typed at a counter or sent through the API would.
    customer = CustomerFactory(
        family_name="<script>fetch('/__pwned/name')</script>", given_name='"><img src=x onerror=fetch("/__pwned/g")>'
    )
    campaign = CampaignFactory(
        name="Winter",
        subject="{{ customer.family_name }} " + PAYLOADS[0],
        body_text="{{ customer.family_name }} {{ customer.given_name }}\n" + "\n".join(PAYLOADS),
        body_html=(
            '<h1 class="title" style="color: #c00">Winter sale</h1>'
            "<p>Dear {{ customer.family_name }} {{ customer.given_name }}</p>"
            '<p><a href="https://shop.example/sale?utm=mail&amp;x=1" title="Sale">Go to the "sale"</a></p>'
            + "".join(PAYLOADS)
        ),
    )
    Campaign.objects.filter(pk=campaign.pk).update(body_html=campaign.body_html)  # as an API key could store it
    requests: list[str] = []

    with chromium_page() as page:
        page.context.on("request", lambda request: requests.append(request.url))
        page.goto(f"{live_server.url}/accounts/login/?next=/campaigns/{campaign.public_id}/")
        page.get_by_label("Email").fill("mk@tsunagu.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign In").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Winter")

        for customer_id in ("", customer.public_id):  # the sample customer loads by itself; then a real one
            if customer_id:
                page.get_by_label("Customer id").fill(customer_id)
                page.get_by_role("button", name="Preview", exact=True).click()
            frame_element = page.locator("#campaign-preview iframe")
            expect(frame_element).to_have_attribute("sandbox", "")
            frame = page.frame_locator("#campaign-preview iframe")
            expect(frame.get_by_role("heading", name="Winter sale")).to_be_visible()
            link = frame.get_by_role("link", name='Go to the "sale"')
            expect(link).to_have_attribute("href", "https://shop.example/sale?utm=mail&x=1")
            if customer_id:
                expect(frame.locator("p").first).to_contain_text("<script>")  # the name, shown as text
                expect(page.locator("#campaign-preview .mail-text")).to_contain_text("<script>fetch(")
                frame.locator("#js-link").click()
            page.wait_for_timeout(500)

        screenshot(page, "campaign-preview")
        assert page.evaluate("window.__pwned") is None
        assert "pwned" not in page.title()
        assert not [url for url in requests if "__pwned" in url], requests
