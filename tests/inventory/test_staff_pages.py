"""Inventory staff pages (issue 14, item 9): the transfers page, reservation forms whose customer and
SKU fields accept what search accepts, confirmation steps on hand-over and cancel, and discrepancies
resolved by a recount."""

import pytest
from django.urls import reverse

from crm.ids import luhn_check_digit
from inventory.models import Discrepancy, Reservation, StockLevel, StockMovement, Transfer
from inventory.services import create_reservation
from tests.crm.factories import UserFactory, WarehouseFactory
from tests.mfa import login_as

from .factories import CustomerFactory, ProductFactory, StoreFactory, order, stock

pytestmark = pytest.mark.django_db
NEW = reverse("inventory:reservation_create")


@pytest.fixture
def shop():
    store = StoreFactory(code="S1", name="渋谷店", prefecture="東京都")
    return store, ProductFactory(sku="COAT-1", name="ウールコート")


@pytest.fixture
def clerk(client, shop):
    user = UserFactory(role="store_staff", store=shop[0])
    login_as(client, user)
    return user


def text(response) -> str:
    return response.content.decode()


def level(store, product) -> StockLevel:
    return StockLevel.objects.get(store=store, product=product)


# --- reservation form: customer and SKU as search accepts them ----------------------------------------
@pytest.mark.parametrize(
    ("typed_customer", "typed_sku"),
    [("{a} {b} {c}", "coat-1"), ("{a}-{b}-{c}", "ＣＯＡＴ－１"), ("090-4444-5555", " COAT-1 "),
     ("Saki@Example.jp", "ウールコート")],
)  # fmt: skip
def test_a_hold_accepts_the_card_with_spaces_a_phone_an_email_and_a_lower_case_sku(
    client, clerk, shop, typed_customer, typed_sku
):
    store, product = shop
    stock(store, product, 1)
    number = "10000000001" + luhn_check_digit("10000000001")
    customer = CustomerFactory(member_number=number, phone="+819044445555", email="saki@example.jp")
    typed = typed_customer.format(a=number[:4], b=number[4:8], c=number[8:])
    response = client.post(NEW, {"store": "S1", "customer": typed, "sku": typed_sku, "quantity": 1, "kind": "hold"})
    assert response.status_code == 302, response.context["form"].errors
    rsv = Reservation.objects.get()
    assert rsv.customer == customer and rsv.product == product


def test_a_name_that_finds_several_members_asks_to_pick_one_and_writes_nothing(client, clerk, shop):
    store, product = shop
    stock(store, product, 1)
    CustomerFactory.create_batch(2, family_name="田中", given_name="花子")
    response = client.post(NEW, {"store": "S1", "customer": "田中", "sku": "COAT-1", "quantity": 1, "kind": "hold"})
    assert response.status_code == 400 and "2 match: pick one" in text(response)
    assert Reservation.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"customer": ""}, "customer"), ({"customer": "x" * 101}, "customer"), ({"sku": ""}, "sku"),
     ({"sku": "NOPE-9"}, "sku"), ({"quantity": "many"}, "quantity"), ({"kind": "steal"}, "kind")],
)  # fmt: skip
def test_bad_reservation_values_name_the_field_and_write_nothing(client, clerk, shop, overrides, field):
    store, product = shop
    stock(store, product, 1)
    customer = CustomerFactory()
    data = {"store": "S1", "customer": customer.member_number, "sku": "COAT-1", "quantity": 1, "kind": "hold"}
    response = client.post(NEW, {**data, **overrides})
    assert response.status_code == 400 and field in response.context["form"].errors
    assert Reservation.objects.count() == 0


def test_pickers_suggest_customers_and_products_while_typing(client, clerk, shop):
    customer = CustomerFactory(family_name="山本", given_name="彩", phone="+819012340000")
    ProductFactory(sku="COAT-2", name="ダウンコート")
    options = text(client.get(reverse("inventory:pick_customer"), {"customer": "090-1234-0000"}))
    assert f'value="{customer.member_number}"' in options and "山本" in options and "090-1234-0000" in options
    options = text(client.get(reverse("inventory:pick_product"), {"sku": "coat"}))
    assert 'value="COAT-1"' in options and 'value="COAT-2"' in options
    assert text(client.get(reverse("inventory:pick_customer"), {"customer": "<script>"})).strip() == ""


def test_the_customer_page_offers_to_hold_an_item_with_the_customer_filled_in(client, clerk, shop):
    customer = CustomerFactory()
    page = text(client.get(reverse("crm:customer_detail", args=[customer.public_id])))
    assert 'id="hold-item"' in page
    form = text(client.get(reverse("inventory:reservations"), {"customer": customer.member_number}))
    assert f'value="{customer.member_number}"' in form and '<details open id="new-reservation">' in form


# --- confirmation steps -------------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["reservation_fulfil", "reservation_cancel"])
def test_hand_over_and_cancel_ask_for_confirmation_before_acting(client, clerk, shop, action):
    store, product = shop
    stock(store, product, 1)
    rsv = create_reservation(customer=CustomerFactory(family_name="確認"), store=store, product=product, quantity=1,
                             kind="hold")  # fmt: skip
    url = reverse(f"inventory:{action}", args=[rsv.public_id])
    page = client.get(url)
    assert page.status_code == 200 and rsv.pickup_code in text(page) and "確認" in text(page)
    assert 'id="confirm-action"' in text(page)
    one_click = client.post(url)
    assert one_click.status_code == 200 and 'id="confirm-action"' in text(one_click)
    rsv.refresh_from_db()
    assert rsv.status == "active"
    assert client.post(url, {"confirm": "1"}).status_code == 302
    rsv.refresh_from_db()
    assert rsv.status == ("fulfilled" if action == "reservation_fulfil" else "cancelled")


def test_the_reservation_list_links_to_the_confirmation_not_to_a_one_click_form(client, clerk, shop):
    store, product = shop
    stock(store, product, 1)
    rsv = create_reservation(customer=CustomerFactory(), store=store, product=product, quantity=1, kind="hold")
    page = text(client.get(reverse("inventory:reservations")))
    assert f'href="{reverse("inventory:reservation_fulfil", args=[rsv.public_id])}"' in page
    assert f'action="{reverse("inventory:reservation_fulfil", args=[rsv.public_id])}"' not in page


# --- discrepancies resolved by a recount ----------------------------------------------------------
def test_a_discrepancy_is_resolved_by_recounting_and_stock_becomes_the_count(client, clerk, shop):
    store, product = shop
    stock(store, product, 1)
    order(store=store, lines=[(product, 3)])  # sells 2 units the counts did not know of
    d = Discrepancy.objects.get()
    url = reverse("inventory:discrepancy_resolve", args=[d.public_id])
    response = client.post(url, {"counted": "4", "note": "倉庫に箱があった"})
    assert response.status_code == 302
    d.refresh_from_db()
    assert (d.status, d.counted, d.resolved_by) == ("resolved", 4, clerk)
    assert level(store, product).on_hand == 4
    correction = StockMovement.objects.get(kind="count_correction")
    assert correction.reference == d.public_id and correction.on_hand_delta == 4 - d.on_hand_before


@pytest.mark.parametrize("counted", ["", "-1", "x", "1.5", "99999999"])
def test_a_recount_with_a_bad_count_names_the_field_and_changes_nothing(client, clerk, shop, counted):
    store, product = shop
    order(store=store, lines=[(product, 1)])
    d = Discrepancy.objects.get()
    before = level(store, product).on_hand
    response = client.post(reverse("inventory:discrepancy_resolve", args=[d.public_id]), {"counted": counted})
    assert response.status_code == 400 and 'aria-invalid="true"' in text(response)
    d.refresh_from_db()
    assert d.status == "open" and level(store, product).on_hand == before


def test_a_recount_below_what_customers_hold_is_refused(client, clerk, shop):
    store, product = shop
    stock(store, product, 3)
    create_reservation(customer=CustomerFactory(), store=store, product=product, quantity=2, kind="hold")
    d = Discrepancy.objects.create(store=store, product=product, source="count", quantity=1)
    response = client.post(reverse("inventory:discrepancy_resolve", args=[d.public_id]), {"counted": "1"})
    assert response.status_code == 400 and "2 units are reserved" in text(response)
    d.refresh_from_db()
    assert d.status == "open" and level(store, product).on_hand == 3


# --- transfers page ------------------------------------------------------------------------------
def test_a_store_sends_stock_and_the_other_store_receives_it_on_the_transfers_page(client, clerk, shop):
    store, product = shop
    other = StoreFactory(code="S2", name="新宿店")
    stock(store, product, 5)
    page = text(client.get(reverse("inventory:transfers")))
    assert "渋谷店" in page and 'id="transfer-form"' in page
    data = {"store": "S1", "to_store": other.pk, "sku": "coat-1", "quantity": 2, "note": "補充"}
    response = client.post(reverse("inventory:transfer_ship"), data)
    assert response.status_code == 302
    transfer = Transfer.objects.get()
    assert level(store, product).on_hand == 3 and transfer.status == "in_transit"
    assert transfer.public_id in text(client.get(reverse("inventory:transfers"), {"store": "S1"}))
    incoming = text(client.get(reverse("inventory:transfers"), {"store": "S2"}))
    assert transfer.public_id in incoming and "補充" in incoming
    client.post(reverse("inventory:transfer_receive", args=[transfer.public_id]))
    transfer.refresh_from_db()
    assert transfer.status == "received" and level(other, product).on_hand == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"quantity": 9}, "quantity"), ({"quantity": 0}, "quantity"), ({"sku": "NOPE"}, "sku"),
     ({"to_store": "999999"}, "to_store"), ({"to_store": "SELF"}, "to_store"), ({"note": "n" * 256}, "note")],
)  # fmt: skip
def test_a_bad_transfer_names_the_field_and_moves_nothing(client, clerk, shop, overrides, field):
    store, product = shop
    other = WarehouseFactory()
    stock(store, product, 5)
    data = {"store": "S1", "to_store": other.pk, "sku": "COAT-1", "quantity": 2}
    if overrides.get("to_store") == "SELF":
        overrides = {"to_store": store.pk}
    response = client.post(reverse("inventory:transfer_ship"), {**data, **overrides})
    assert response.status_code == 400 and field in response.context["form"].errors
    assert Transfer.objects.count() == 0 and level(store, product).on_hand == 5


def test_the_transfers_page_needs_the_permission(client, shop):
    login_as(client, UserFactory(role="marketer"))
    assert client.get(reverse("inventory:transfers")).status_code == 403
