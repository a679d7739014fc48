"""A clerk at the counter, in Japanese, in a real browser (issue 14): look the customer up by the card
number as printed (in groups), open the 360 page, hold an item typed in lower case, then hand it over
through the confirmation step.

Runs Debian's Chromium (never a downloaded browser). Set BROWSER_SCREENSHOTS=<dir> to keep screenshots."""

import os

import pytest

from crm.ids import luhn_check_digit
from inventory.models import Reservation, StockLevel
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory, UserFactory, stock
from tests.crm.test_browser import PASSWORD, chromium_page, screenshot

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_clerk_looks_up_a_member_holds_an_item_and_hands_it_over_in_japanese(live_server):
    expect = playwright_api.expect
    shibuya = StoreFactory(code="SHB", name="渋谷店")
    UserFactory(email="clerk@tsunagu.example", role="store_staff", language="ja", display_name="渋谷 店員",
                store=shibuya)  # fmt: skip
    number = "20000000003" + luhn_check_digit("20000000003")
    customer = CustomerFactory(family_name="田中", given_name="花子", member_number=number, home_store=shibuya)
    coat = ProductFactory(sku="COAT-1", name="ウールコート")
    stock(coat, shibuya, 2)

    with chromium_page() as page:
        page.goto(f"{live_server.url}/")
        page.locator('input[name="login"]').fill("clerk@tsunagu.example")
        page.locator('input[name="password"]').fill(PASSWORD)
        page.locator('input[name="password"]').press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("顧客検索")

        # The card as printed: three groups of four digits.
        page.get_by_role("searchbox").press_sequentially(f"{number[:4]} {number[4:8]} {number[8:]}", delay=30)
        result = page.locator("#search-results").get_by_role("link", name="田中 花子")
        expect(result).to_be_visible()
        expect(page.locator("#result-count")).to_contain_text("1 件")
        screenshot(page, "clerk-search-ja")
        result.click()

        expect(page.get_by_role("heading", level=1)).to_contain_text("田中 花子")
        page.locator("#hold-item").click()
        form = page.locator("#reservation-form")
        expect(form).to_be_visible()
        expect(form.locator('input[name="customer"]')).to_have_value(number)
        form.locator('input[name="sku"]').press_sequentially("coat-1", delay=30)
        form.locator('select[name="kind"]').select_option("hold")
        screenshot(page, "clerk-hold-ja")
        form.locator('button[type="submit"]').click()

        reservation = Reservation.objects.get()
        expect(page.locator(".messages .message").first).to_contain_text(reservation.pickup_code)
        row = page.locator(f"#{reservation.public_id}")
        expect(row).to_contain_text("ウールコート")
        row.get_by_role("button", name="お渡し…").click()

        confirm = page.locator("#reservation-confirm")
        expect(confirm.get_by_role("heading", level=1)).to_have_text("この予約をお渡ししますか？")
        expect(confirm).to_contain_text(reservation.pickup_code)
        reservation.refresh_from_db()
        assert reservation.status == "active"  # nothing happens before the confirmation
        screenshot(page, "clerk-handover-confirm-ja")
        confirm.get_by_role("button", name="お渡しする").click()

        expect(page.get_by_role("heading", level=1)).to_contain_text("渋谷店")
        reservation.refresh_from_db()
        assert reservation.status == "fulfilled" and reservation.customer == customer
        level = StockLevel.objects.get(store=shibuya, product=coat)
        assert (level.on_hand, level.reserved) == (1, 0)


@pytest.mark.parametrize("width", [1366, 820])
def test_the_clerks_new_pages_fit_a_laptop_and_a_tablet(live_server, width):
    """No horizontal overflow inside the page body, and no button label broken one character a line."""
    shibuya = StoreFactory(code="SHB", name="渋谷店")
    StoreFactory(code="SJK", name="新宿店")
    UserFactory(email="clerk@tsunagu.example", role="store_staff", language="ja", store=shibuya)
    coat = ProductFactory(sku="COAT-1", name="ウールコート")
    stock(coat, shibuya, 3)
    from inventory.services import create_reservation, ship_transfer

    customer = CustomerFactory(family_name="田中", given_name="花子")
    reservation = create_reservation(customer=customer, store=shibuya, product=coat, quantity=1, kind="hold")
    ship_transfer(from_store=shibuya, to_store=StoreFactory(code="SNG", name="銀座店"), product=coat, quantity=1)
    pages = [
        "/customers/new/",
        f"/customers/{customer.public_id}/edit/",
        "/inventory/reservations/",
        f"/inventory/reservations/{reservation.public_id}/fulfil/",
        "/inventory/transfers/",
        "/inventory/discrepancies/",
    ]
    with chromium_page() as page:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/accounts/login/")
        page.locator('input[name="login"]').fill("clerk@tsunagu.example")
        page.locator('input[name="password"]').fill(PASSWORD)
        page.locator('input[name="password"]').press("Enter")
        playwright_api.expect(page.get_by_role("heading", level=1)).to_have_text("顧客検索")
        for path in pages:
            page.goto(f"{live_server.url}{path}")
            overflow = page.evaluate(
                "() => { const m = document.querySelector('main'); return m.scrollWidth - m.clientWidth; }"
            )
            assert overflow <= 1, (path, width, overflow)
            squeezed = page.evaluate(
                """() => [...document.querySelectorAll('main button, main [role=button]')]
                    .filter(b => b.offsetParent && b.innerText.trim().length > 1)
                    .filter(b => b.getBoundingClientRect().height
                                 > 3.2 * parseFloat(getComputedStyle(b).lineHeight || 20))
                    .map(b => b.innerText)"""
            )
            assert squeezed == [], (path, width, squeezed)
            screenshot(page, f"clerk{path.replace('/', '-')}{width}")
