"""The product's tour, walked in Chromium in Japanese on a 1366 px screen and an 820 px tablet:
an agent answers a web-form inquiry (the reply goes by email) and resolves it; a marketer opens a
segment, watches its live count, opens the campaign and sends a test. (The clerk's walk, lookup →
360 → hold → hand-over, is tests/inventory/test_browser.py.)

With BROWSER_SCREENSHOTS=docs/tour the screenshots in the README's tour are written again."""

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from channels_hub.models import Message, Ticket
from tests.campaigns.factories import CampaignFactory, SegmentFactory
from tests.channels_hub.factories import MessageFactory, TicketFactory
from tests.crm.factories import CustomerFactory, StoreFactory, UserFactory
from tests.crm.test_browser import CHROMIUM, CHROMIUM_ARGS, playwright_api, screenshot
from tests.mfa import login_with_mfa

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WIDTHS = (1366, 820)


def _signed_in_page(playwright, live_server, user, width):
    client = Client()
    login_with_mfa(client, user)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="ja-JP")
    context.set_default_timeout(10_000)
    host = live_server.url.split("//", 1)[1].split(":")[0]
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
          "domain": host, "path": "/"}]
    )  # fmt: skip
    return browser, context.new_page()


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0


@pytest.mark.parametrize("width", WIDTHS)
def test_an_agent_answers_a_web_form_inquiry_by_email_and_resolves_it(live_server, width):
    expect = playwright_api.expect
    agent = UserFactory(email="agent@tsunagu.example", role="agent", language="ja", display_name="佐藤 窓口")
    customer = CustomerFactory(family_name="田中", given_name="花子", email="hanako@example.jp")
    ticket = TicketFactory(customer=customer, subject="コートのサイズ交換", first_channel="web_form", assignee=agent)
    MessageFactory(ticket=ticket, channel="web_form", body="Mサイズに交換できますか？")

    with playwright_api.sync_playwright() as playwright:
        browser, page = _signed_in_page(playwright, live_server, agent, width)
        try:
            page.goto(f"{live_server.url}/hub/?view=all")
            expect(page.locator("body")).to_contain_text("コートのサイズ交換")
            _no_sideways_scroll(page)
            screenshot(page, f"agent-inbox-{width}")

            page.goto(f"{live_server.url}/hub/tickets/{ticket.public_id}/")
            expect(page.get_by_role("heading", level=1)).to_contain_text("コートのサイズ交換")
            page.locator("#id_reply_body").fill("田中様、Mサイズに交換いたします。")
            page.locator("#reply-form button[type=submit]").click()
            expect(page.locator("body")).to_contain_text("Mサイズに交換いたします")
            _no_sideways_scroll(page)
            screenshot(page, f"agent-ticket-{width}")

            page.locator("#update-form select[name=status]").select_option("resolved")
            page.locator("#update-form button[type=submit]").click()
            expect(page.locator("#update-form select[name=status]")).to_have_value("resolved")
        finally:
            browser.close()

    reply = Message.objects.get(ticket=ticket, direction=Message.Direction.OUT)
    assert reply.channel == "email"  # a web form cannot carry a reply: it went by email
    assert [m.to for m in mail.outbox if "Mサイズに交換いたします" in m.body] == [["hanako@example.jp"]]
    assert Ticket.objects.get(pk=ticket.pk).status == "resolved"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_marketer_reads_a_segments_live_count_and_sends_a_campaign_test(live_server, width):
    expect = playwright_api.expect
    marketer = UserFactory(email="mk@tsunagu.example", role="marketer", language="ja", display_name="鈴木 販促")
    store = StoreFactory(code="SHB", name="渋谷店")
    for i in range(3):
        CustomerFactory(family_name="東京", given_name=f"{i}", prefecture="東京都", home_store=store)
    segment = SegmentFactory(
        name="東京のお客様", rules={"all": [{"field": "prefecture", "op": "in", "value": ["東京都"]}]}
    )
    campaign = CampaignFactory(name="冬のセール", segment=segment, subject="{{ customer.family_name }}様 冬のセール")

    with playwright_api.sync_playwright() as playwright:
        browser, page = _signed_in_page(playwright, live_server, marketer, width)
        try:
            page.goto(f"{live_server.url}/campaigns/segments/{segment.public_id}/")
            expect(page.locator(".segment-count")).to_have_text("3")
            _no_sideways_scroll(page)
            screenshot(page, f"marketer-segment-{width}")

            page.goto(f"{live_server.url}/campaigns/{campaign.public_id}/")
            expect(page.get_by_role("heading", level=1)).to_contain_text("冬のセール")
            page.locator("input[name=to]").fill("mk@tsunagu.example")
            page.locator("form[action$='/test/'] button[type=submit]").click()
            expect(page.locator(".messages")).to_contain_text("テストメールを1件のアドレスに送信しました。")
            _no_sideways_scroll(page)
            screenshot(page, f"marketer-campaign-{width}")
        finally:
            browser.close()

    assert [m.to for m in mail.outbox] == [["mk@tsunagu.example"]]
    assert "冬のセール" in mail.outbox[0].subject


@pytest.mark.parametrize("width", WIDTHS)
def test_a_marketer_builds_a_welcome_journey_with_a_mail_and_a_line_step(live_server, width):
    """Each step shows only its own fields; the journey is saved with a mail, a wait and a LINE step."""
    from campaigns.models import Journey
    from channels_hub.line.services import configure_line_account

    expect = playwright_api.expect
    marketer = UserFactory(email="mk@tsunagu.example", role="marketer", language="ja", display_name="鈴木 販促")
    configure_line_account(name="shop", channel_secret="s" * 32, access_token="t" * 40, label="つなぐ商店 公式LINE")

    with playwright_api.sync_playwright() as playwright:
        browser, page = _signed_in_page(playwright, live_server, marketer, width)
        try:
            page.goto(f"{live_server.url}/campaigns/journeys/new/")
            step = page.locator("fieldset.journey-step")
            expect(step).to_have_count(2)
            expect(step.nth(0).locator("[data-field=subject]")).to_be_hidden()  # no kind chosen yet
            page.locator("#id_name").fill("ようこそシリーズ")
            page.locator("#id_trigger").select_option("customer_created")
            page.locator("#id_from_email").fill("つなぐ商店 <news@shop.example>")
            page.locator("#id_line_account").select_option(label="つなぐ商店 公式LINE")
            page.locator("#id_steps-0-kind").select_option("email")
            expect(step.nth(0).locator("[data-field=subject]")).to_be_visible()
            expect(step.nth(0).locator("[data-field=line_text]")).to_be_hidden()
            page.locator("#id_steps-0-subject").fill("{{ customer.family_name }}様 ようこそ")
            page.locator("#id_steps-0-body_text").fill("{{ customer.family_name }}様、ご登録ありがとうございます。")
            page.locator("#id_steps-1-kind").select_option("line")
            expect(step.nth(1).locator("[data-field=line_text]")).to_be_visible()
            expect(step.nth(1).locator("[data-field=subject]")).to_be_hidden()
            page.locator("#id_steps-1-line_text").fill("{{ customer.family_name }}様 LINE でもよろしくお願いします")
            _no_sideways_scroll(page)
            screenshot(page, f"marketer-journey-builder-{width}")
            page.locator("form button[type=submit]").last.click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("ようこそシリーズ")
            expect(page.locator(".messages")).to_contain_text("保存")
            _no_sideways_scroll(page)
            screenshot(page, f"marketer-journey-{width}")
        finally:
            browser.close()

    journey = Journey.objects.get()
    assert [s.kind for s in journey.steps.all()] == ["email", "line"]
    assert journey.line_account.label == "つなぐ商店 公式LINE"
