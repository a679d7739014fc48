"""The main staff pages laid out in a real browser, in Japanese and English, on a 1366 px screen and an
820 px tablet: the document never scrolls sideways, no button, link or label is squeezed to one
character per line (the points 記録 button, the inbox Filter button and nav words once were), and on
1366 px the header stays on one row.

Runs Debian's Chromium (never a downloaded browser). Set BROWSER_SCREENSHOTS=<dir> to keep screenshots."""

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from crm.models import SalesChannel
from crm.services import record_order
from tests.campaigns.factories import CampaignFactory, SegmentFactory
from tests.channels_hub.factories import MessageFactory, TicketFactory
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory, UserFactory
from tests.crm.test_browser import chromium_page, screenshot
from tests.mfa import login_with_mfa

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WIDTHS = (1366, 820)

# What the page looks like to a person, measured in the page: sideways overflow of the document, elements
# whose text wraps one character per line (taller than 1.6 lines while narrower than 2.6 em, text of two
# characters or more; table cells are left out, a cell takes its row's height), and the header's rows.
MEASURE = """() => {
  const doc = document.documentElement;
  const squeezed = [];
  const selector = "a, button, label, summary, legend, dt, h1, h2, h3, .badge, [role=button], nav li";
  for (const el of document.querySelectorAll(selector)) {
    const text = (el.innerText || "").trim();
    if (text.replace(/\\s/g, "").length < 2) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    const style = getComputedStyle(el);
    const size = parseFloat(style.fontSize);
    const line = parseFloat(style.lineHeight) || size * 1.5;
    const height = box.height - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)
      - parseFloat(style.borderTopWidth) - parseFloat(style.borderBottomWidth);
    const width = box.width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (height > 1.6 * line && width < 2.6 * size) {
      squeezed.push(`${el.tagName.toLowerCase()} "${text.slice(0, 20)}" ${Math.round(width)}x${Math.round(height)}px`);
    }
  }
  const items = [...document.querySelectorAll(".site-header nav > ul > li")].filter((li) => li.offsetHeight);
  const middles = items.map((li) => li.getBoundingClientRect().top + li.offsetHeight / 2).sort((a, b) => a - b);
  const rows = middles.filter((m, i) => i === 0 || m - middles[i - 1] > 12).length;
  return { overflow: Math.max(0, doc.scrollWidth - doc.clientWidth), squeezed, header_rows: rows };
}"""


def _session_cookie(user) -> str:
    client = Client()
    login_with_mfa(client, user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _pages() -> list[str]:
    store = StoreFactory(code="SHB", name="渋谷店")
    customer = CustomerFactory(family_name="田中", given_name="花子", home_store=store)
    record_order(
        source="pos", external_ref="POS-1", channel=SalesChannel.STORE, store=store,
        ordered_at=timezone.now() - dt.timedelta(days=3), customer=customer,
        lines=[{"product": ProductFactory(sku="COAT-1", name="ウールコート"), "quantity": 1, "unit_price": 19800}],
    )  # fmt: skip
    ticket = TicketFactory(customer=customer)
    MessageFactory(ticket=ticket)
    campaign = CampaignFactory(name="冬のセール", segment=SegmentFactory(name="東京の購入者"))
    return [
        "/customers/",
        "/customers/?q=田中",
        f"/customers/{customer.public_id}/",
        "/customers/duplicates/",
        "/hub/",
        f"/hub/tickets/{ticket.public_id}/",
        "/inventory/",
        "/inventory/reservations/",
        "/inventory/discrepancies/",
        "/loyalty/finance/",
        "/loyalty/approvals/",
        "/campaigns/",
        f"/campaigns/{campaign.public_id}/",
        "/campaigns/segments/",
        "/campaigns/segments/new/",
        "/insights/",
    ]


def test_main_pages_fit_both_widths_in_both_languages(live_server):
    pages = _pages()
    cookies = {
        language: _session_cookie(
            UserFactory(role="admin", language=language, display_name="管理者 太郎", email=f"admin-{language}@x.jp")
        )
        for language in ("ja", "en")
    }
    for role in ("store_staff", "agent", "marketer"):
        UserFactory(role=role)
    problems = []

    with chromium_page() as page:
        context = page.context
        for language, cookie in cookies.items():
            context.clear_cookies()
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                for path in pages:
                    response = page.goto(f"{live_server.url}{path}")
                    assert response.status == 200, (path, response.status)
                    page.wait_for_load_state("networkidle")
                    measured = page.evaluate(MEASURE)
                    where = f"{language} {width}px {path}"
                    if measured["overflow"]:
                        problems.append(f"{where}: the page scrolls sideways by {measured['overflow']}px")
                    problems.extend(f"{where}: one character per line: {s}" for s in measured["squeezed"])
                    if width == 1366 and measured["header_rows"] != 1:
                        problems.append(f"{where}: the header takes {measured['header_rows']} rows")
                    if path in ("/hub/", pages[2], "/insights/"):
                        screenshot(page, f"layout-{language}-{width}-{path.strip('/').split('/')[0]}")
    assert not problems, "\n".join(problems)
