"""Click-and-collect and the order lifecycle through the API: fulfilment on EC orders, ship / ready /
collect / cancel from the right states only, holds and pickups handed over by a POS sale line."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from crm.models import Order
from crm.services import cancel_uncollected_pickups
from crm.services.fulfilment import send_order_pickup_mail
from inventory.models import Reservation, StockLevel, StockMovement
from inventory.selectors import stock_mismatches
from inventory.services import create_reservation
from loyalty.selectors import accounts_out_of_balance, customer_balance

from .factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def pos(api):
    return api("orders:write")


@pytest.fixture
def shop():
    shop = {
        "shibuya": StoreFactory(code="SHIBUYA", prefecture="東京都"),
        "ginza": StoreFactory(code="GINZA", prefecture="東京都"),
        "umeda": StoreFactory(code="UMEDA", prefecture="大阪府"),
        "warehouse": WarehouseFactory(),
        "coat": ProductFactory(sku="COAT-1", price=20000),
        "scarf": ProductFactory(sku="SCARF-1", price=5000),
        "customer": CustomerFactory(prefecture="東京都", email="hanako@example.jp"),
    }
    stock(shop["coat"], shop["shibuya"], 3)
    stock(shop["coat"], shop["warehouse"], 10)
    stock(shop["scarf"], shop["warehouse"], 10)
    return shop


def ec_order(shop, ref="EC-1", fulfilment=None, lines=None, **extra):
    body = {
        "source": "ec", "external_ref": ref, "channel": "ec", "customer": shop["customer"].public_id,
        "ordered_at": "2026-11-20T10:00:00+09:00",
        "lines": lines or [{"sku": "COAT-1", "quantity": 1, "unit_price": 20000}],
    }  # fmt: skip
    if fulfilment is not None:
        body["fulfilment"] = fulfilment
    body.update(extra)
    return body


PICKUP = {"type": "pickup", "store": "SHIBUYA"}


def level(store, product):
    row = StockLevel.objects.get(store=store, product=product)
    return row.on_hand, row.reserved


def place_pickup(pos, shop, ref="EC-1", fulfilment=PICKUP, **extra):
    response = pos.post("/api/v1/orders/", ec_order(shop, ref, fulfilment, **extra), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def ledgers_agree():
    assert stock_mismatches() == []
    assert accounts_out_of_balance() == []


# --- recording -------------------------------------------------------------------------------
def test_a_pickup_order_holds_the_coat_at_the_store_and_carries_a_code(pos, shop):
    body = place_pickup(pos, shop)
    assert body["status"] == "placed"
    assert body["fulfilment"]["type"] == "pickup" and body["fulfilment"]["store"] == "SHIBUYA"
    assert len(body["fulfilment"]["pickup_code"]) == 8
    assert body["fulfilled_from"] == "SHIBUYA"
    assert level(shop["shibuya"], shop["coat"]) == (3, 1)  # held, not yet gone
    assert level(shop["warehouse"], shop["coat"]) == (10, 0)
    ledgers_agree()


def test_a_delivery_order_is_placed_with_ship_fulfilment(pos, shop):
    response = pos.post("/api/v1/orders/", ec_order(shop, fulfilment={"type": "ship"}), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "placed"
    assert body["fulfilment"] == {"type": "ship", "store": "EC-WH", "pickup_code": None}


def test_a_store_sale_is_completed_with_no_fulfilment(pos, shop):
    body = {
        "source": "pos", "external_ref": "R-1", "channel": "store", "store": "SHIBUYA",
        "ordered_at": "2026-11-20T10:00:00+09:00", "lines": [{"sku": "COAT-1", "quantity": 1, "unit_price": 20000}],
    }  # fmt: skip
    response = pos.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "completed" and response.json()["fulfilment"] is None


def test_a_pickup_store_without_the_coat_names_the_stores_nearby_that_have_it(pos, shop):
    stock(shop["coat"], shop["ginza"], 2)
    stock(shop["coat"], shop["umeda"], 5)  # another prefecture: not offered
    create_reservation(customer=shop["customer"], store=shop["shibuya"], product=shop["coat"], quantity=2, kind="hold")
    body = ec_order(shop, fulfilment=PICKUP, lines=[{"sku": "COAT-1", "quantity": 2, "unit_price": 20000}])
    response = pos.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "out_of_stock"
    assert problem["alternatives"] == ["GINZA"]
    assert "lines.0.quantity" in problem["errors"]
    body["lines"][0]["quantity"] = 4
    response = pos.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 409
    assert response.json()["alternatives"] == []  # GINZA has 2, not 4
    assert not Order.objects.exists()
    assert level(shop["shibuya"], shop["coat"]) == (3, 2)
    ledgers_agree()


@pytest.mark.parametrize(
    ("fulfilment", "field"),
    [
        ({"type": "deliver"}, "fulfilment.type"),
        ({"type": "pickup"}, "fulfilment.store"),
        ({"type": "pickup", "store": "NOWHERE"}, "fulfilment.store"),
        ({"type": "pickup", "store": "EC-WH"}, "fulfilment.store"),
        ({"type": "pickup", "store": "SHIBUYA", "when": "now"}, "fulfilment.when"),
        ("pickup", "fulfilment"),
    ],
)
def test_a_bad_fulfilment_names_the_field_and_writes_nothing(pos, shop, fulfilment, field):
    response = pos.post("/api/v1/orders/", ec_order(shop, fulfilment=fulfilment), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
    assert not Order.objects.exists() and not Reservation.objects.exists()


def test_a_guest_cannot_order_for_pickup(pos, shop):
    response = pos.post("/api/v1/orders/", ec_order(shop, fulfilment=PICKUP, customer=None), format="json")
    assert response.status_code == 400
    assert "customer" in response.json()["errors"]
    assert not Order.objects.exists() and not Reservation.objects.exists()


def test_a_store_sale_cannot_carry_a_fulfilment(pos, shop):
    body = {
        "source": "pos", "external_ref": "R-1", "channel": "store", "store": "SHIBUYA", "fulfilment": PICKUP,
        "ordered_at": "2026-11-20T10:00:00+09:00", "lines": [{"sku": "COAT-1", "quantity": 1, "unit_price": 20000}],
    }  # fmt: skip
    response = pos.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 400
    assert "fulfilment" in response.json()["errors"]
    assert not Order.objects.exists()


# --- transitions -----------------------------------------------------------------------------
def test_ready_sends_the_pickup_mail_once(pos, shop, django_capture_on_commit_callbacks):
    order = place_pickup(pos, shop)
    with django_capture_on_commit_callbacks(execute=True):
        first = pos.post(f"/api/v1/orders/{order['id']}/ready/")
    assert first.status_code == 200 and first.json()["status"] == "ready_for_pickup"
    with django_capture_on_commit_callbacks(execute=True):
        second = pos.post(f"/api/v1/orders/{order['id']}/ready/")
    assert send_order_pickup_mail(order_id=Order.objects.get().pk, kind="ready") is False  # a retried task
    assert second.status_code == 409 and second.json()["code"] == "invalid_state"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["hanako@example.jp"]
    assert order["fulfilment"]["pickup_code"] in mail.outbox[0].body


def test_collect_with_the_right_code_hands_the_coat_over_once(pos, shop):
    order = place_pickup(pos, shop)
    pos.post(f"/api/v1/orders/{order['id']}/ready/")
    code = order["fulfilment"]["pickup_code"]
    wrong = pos.post(f"/api/v1/orders/{order['id']}/collect/", {"pickup_code": "AAAAAAAA"}, format="json")
    assert wrong.status_code == 422 and wrong.json()["code"] == "pickup_code_mismatch"
    assert Order.objects.get().status == "ready_for_pickup"
    assert level(shop["shibuya"], shop["coat"]) == (3, 1)
    right = pos.post(f"/api/v1/orders/{order['id']}/collect/", {"pickup_code": code.lower()}, format="json")
    assert right.status_code == 200 and right.json()["status"] == "collected"
    assert right.json()["collected_at"]
    assert level(shop["shibuya"], shop["coat"]) == (2, 0)
    again = pos.post(f"/api/v1/orders/{order['id']}/collect/", {"pickup_code": code}, format="json")
    assert again.status_code == 409
    assert level(shop["shibuya"], shop["coat"]) == (2, 0)
    ledgers_agree()


def test_ship_records_carrier_and_tracking(pos, shop):
    order = pos.post("/api/v1/orders/", ec_order(shop), format="json").json()
    response = pos.post(
        f"/api/v1/orders/{order['id']}/ship/", {"carrier": "Yamato", "tracking_number": "1234-5678-9012"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["carrier"], body["tracking_number"]) == ("shipped", "Yamato", "1234-5678-9012")
    assert body["shipped_at"]


def test_cancelling_a_pickup_releases_the_coat_and_settles_the_points(pos, shop):
    earlier = pos.post("/api/v1/orders/", ec_order(shop, "EC-0", lines=[
        {"sku": "SCARF-1", "quantity": 2, "unit_price": 5000}]), format="json")  # fmt: skip
    assert earlier.status_code == 201
    assert customer_balance(shop["customer"]).balance == 100
    order = place_pickup(pos, shop, redeem_points=60)
    assert customer_balance(shop["customer"]).balance == 100 - 60 + 199  # earns on ¥19,940 paid
    response = pos.post(f"/api/v1/orders/{order['id']}/cancel/", {"reason": "changed mind"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert customer_balance(shop["customer"]).balance == 100
    assert level(shop["shibuya"], shop["coat"]) == (3, 0)
    assert Reservation.objects.get().status == "cancelled"
    ledgers_agree()


def test_cancelling_a_delivery_puts_the_stock_back_where_it_was_taken(pos, shop):
    order = pos.post("/api/v1/orders/", ec_order(shop), format="json").json()
    assert level(shop["warehouse"], shop["coat"]) == (9, 0)
    assert pos.post(f"/api/v1/orders/{order['id']}/cancel/").status_code == 200
    assert level(shop["warehouse"], shop["coat"]) == (10, 0)
    assert customer_balance(shop["customer"]).balance == 0
    ledgers_agree()


STATES = ["placed_ship", "placed_pickup", "ready_for_pickup", "shipped", "collected", "cancelled", "completed"]
ALLOWED = {
    "ship": {"placed_ship"},
    "ready": {"placed_pickup"},
    "collect": {"ready_for_pickup"},
    "cancel": {"placed_ship", "placed_pickup", "ready_for_pickup"},
}


def order_in(state, pos, shop):
    if state == "completed":
        body = {
            "source": "pos", "external_ref": "R-1", "channel": "store", "store": "SHIBUYA",
            "ordered_at": "2026-11-20T10:00:00+09:00",
            "lines": [{"sku": "COAT-1", "quantity": 1, "unit_price": 20000}],
        }  # fmt: skip
        return pos.post("/api/v1/orders/", body, format="json").json()
    if state in ("placed_ship", "shipped"):
        order = pos.post("/api/v1/orders/", ec_order(shop), format="json").json()
        if state == "shipped":
            pos.post(f"/api/v1/orders/{order['id']}/ship/", {"carrier": "Y", "tracking_number": "1"}, format="json")
        return order
    order = place_pickup(pos, shop)
    if state in ("ready_for_pickup", "collected"):
        pos.post(f"/api/v1/orders/{order['id']}/ready/")
    if state == "collected":
        pos.post(f"/api/v1/orders/{order['id']}/collect/", {"pickup_code": order["fulfilment"]["pickup_code"]},
                 format="json")  # fmt: skip
    if state == "cancelled":
        pos.post(f"/api/v1/orders/{order['id']}/cancel/")
    return order


def action_body(action, order):
    return {
        "ship": {"carrier": "Sagawa", "tracking_number": "999"},
        "collect": {"pickup_code": (order.get("fulfilment") or {}).get("pickup_code") or "ACDEFGHJ"},
    }.get(action, {})


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_every_transition_only_from_its_states(pos, shop, state, action):
    order = order_in(state, pos, shop)
    before = Order.objects.get(public_id=order["id"])
    movements = StockMovement.objects.count()
    response = pos.post(f"/api/v1/orders/{order['id']}/{action}/", action_body(action, order), format="json")
    if state in ALLOWED[action]:
        assert response.status_code == 200, response.json()
        return
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "invalid_state"
    after = Order.objects.get(public_id=order["id"])
    assert (after.status, after.carrier, after.collected_at, after.cancelled_at) == (
        before.status, before.carrier, before.collected_at, before.cancelled_at)  # fmt: skip
    assert StockMovement.objects.count() == movements
    ledgers_agree()


@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_an_unknown_order_is_404(pos, action):
    response = pos.post(f"/api/v1/orders/ord_nope/{action}/", action_body(action, {}), format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("ship", {"carrier": "Yamato"}, "tracking_number"),
        ("ship", {"tracking_number": "1"}, "carrier"),
        ("ship", {"carrier": "", "tracking_number": "1"}, "carrier"),
        ("ship", {"carrier": "   ", "tracking_number": "1"}, "carrier"),
        ("ship", {"carrier": "Y" * 65, "tracking_number": "1"}, "carrier"),
        ("ship", {"carrier": "Y", "tracking_number": "1", "eta": "x"}, "eta"),
        ("ship", {"carrier": ["Y"], "tracking_number": "1"}, "carrier"),
        ("collect", {}, "pickup_code"),
        ("collect", {"pickup_code": ""}, "pickup_code"),
        ("collect", {"pickup_code": "  "}, "pickup_code"),
        ("collect", {"pickup_code": 12345678}, None),
        ("cancel", {"reason": "x" * 256}, "reason"),
        ("cancel", {"why": "x"}, "why"),
    ],
)
def test_a_bad_transition_body_names_the_field_and_changes_nothing(pos, shop, action, body, field):
    state = {"ship": "placed_ship", "collect": "ready_for_pickup", "cancel": "placed_pickup"}[action]
    order = order_in(state, pos, shop)
    movements = StockMovement.objects.count()
    response = pos.post(f"/api/v1/orders/{order['id']}/{action}/", body, format="json")
    assert response.status_code in (400, 422), response.json()
    if field:
        assert field in response.json()["errors"], response.json()
    assert Order.objects.get(public_id=order["id"]).status == order_status(state)
    assert StockMovement.objects.count() == movements


def order_status(state):
    return {"placed_ship": "placed", "placed_pickup": "placed"}.get(state, state)


# --- holds and pickups at the till -----------------------------------------------------------
def till_sale(shop, reservation, ref="R-9", quantity=1):
    return {
        "source": "pos", "external_ref": ref, "channel": "store", "store": "SHIBUYA",
        "customer": shop["customer"].public_id, "ordered_at": "2026-11-20T10:00:00+09:00",
        "lines": [{"sku": "COAT-1", "quantity": quantity, "unit_price": 0, "reservation": reservation}],
    }  # fmt: skip


def test_the_coat_collected_and_rung_up_at_the_till_leaves_the_stock_once(pos, shop):
    """The issue's scenario: 3 coats, one picked up and rung up at the POS: 2 left, not 1."""
    order = place_pickup(pos, shop)
    assert level(shop["shibuya"], shop["coat"]) == (3, 1)
    code = order["fulfilment"]["pickup_code"]
    response = pos.post("/api/v1/orders/", till_sale(shop, code), format="json")
    assert response.status_code == 201, response.json()
    assert level(shop["shibuya"], shop["coat"]) == (2, 0)
    assert Order.objects.get(public_id=order["id"]).status == "collected"
    again = pos.post(f"/api/v1/orders/{order['id']}/collect/", {"pickup_code": code}, format="json")
    assert again.status_code == 409
    assert level(shop["shibuya"], shop["coat"]) == (2, 0)
    ledgers_agree()


def test_a_hold_paid_at_the_counter_takes_the_held_units(pos, shop):
    hold = create_reservation(customer=shop["customer"], store=shop["shibuya"], product=shop["coat"], quantity=1,
                              kind="hold")  # fmt: skip
    assert level(shop["shibuya"], shop["coat"]) == (3, 1)
    response = pos.post("/api/v1/orders/", till_sale(shop, hold.pickup_code), format="json")
    assert response.status_code == 201, response.json()
    assert level(shop["shibuya"], shop["coat"]) == (2, 0)
    hold.refresh_from_db()
    assert hold.status == "fulfilled"
    ledgers_agree()


def test_a_hold_named_by_its_id_for_two_of_three_units_releases_the_third(pos, shop):
    hold = create_reservation(customer=shop["customer"], store=shop["shibuya"], product=shop["coat"], quantity=3,
                              kind="hold")  # fmt: skip
    response = pos.post("/api/v1/orders/", till_sale(shop, hold.public_id, quantity=2), format="json")
    assert response.status_code == 201, response.json()
    assert level(shop["shibuya"], shop["coat"]) == (1, 0)
    ledgers_agree()


def test_a_hold_that_expired_a_moment_before_the_sale_is_counted_once(pos, shop):
    hold = create_reservation(customer=shop["customer"], store=shop["shibuya"], product=shop["coat"], quantity=1,
                              kind="hold")  # fmt: skip
    call_command_expire(hold)
    assert level(shop["shibuya"], shop["coat"]) == (3, 0)
    response = pos.post("/api/v1/orders/", till_sale(shop, hold.public_id), format="json")
    assert response.status_code == 201, response.json()
    assert level(shop["shibuya"], shop["coat"]) == (2, 0)
    ledgers_agree()


def call_command_expire(hold):
    from inventory.services import expire_reservations

    Reservation.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert expire_reservations() == 1


@pytest.mark.parametrize(
    ("reservation", "message_part"),
    [("rsv_unknown", "取り置き"), ("ZZZZZZ", "取り置き"), ("ZZZZZZZZ", "受け取り待ち")],  # answers in Japanese
)
def test_an_unknown_reservation_on_a_sale_line_is_refused_and_nothing_written(pos, shop, reservation, message_part):
    response = pos.post("/api/v1/orders/", till_sale(shop, reservation), format="json")
    assert response.status_code == 400, response.json()
    assert message_part in response.json()["errors"]["lines.0.reservation"][0]
    assert not Order.objects.exists()
    assert level(shop["shibuya"], shop["coat"]) == (3, 0)


def test_a_pickup_code_of_another_store_is_refused_at_the_till(pos, shop):
    stock(shop["coat"], shop["ginza"], 1)
    order = place_pickup(pos, shop, fulfilment={"type": "pickup", "store": "GINZA"})
    response = pos.post("/api/v1/orders/", till_sale(shop, order["fulfilment"]["pickup_code"]), format="json")
    assert response.status_code == 400
    assert "別の店舗" in response.json()["errors"]["lines.0.reservation"][0]
    assert Order.objects.get(public_id=order["id"]).status == "placed"
    assert Order.objects.count() == 1


def test_the_reservation_endpoints_do_not_touch_a_pickup_orders_units(api, pos, shop):
    place_pickup(pos, shop)
    reservation = Reservation.objects.get()
    inventory = api("inventory:write")
    for action in ("fulfill", "cancel"):
        response = inventory.post(f"/api/v1/inventory/reservations/{reservation.public_id}/{action}/")
        assert response.status_code == 409 and response.json()["code"] == "invalid_state"
    assert level(shop["shibuya"], shop["coat"]) == (3, 1)


# --- uncollected pickups ---------------------------------------------------------------------
def test_a_pickup_not_collected_in_time_is_cancelled_with_a_mail(
    pos, shop, settings, django_capture_on_commit_callbacks
):
    settings.INVENTORY_PICKUP_DAYS = 7
    order = place_pickup(pos, shop)
    pos.post(f"/api/v1/orders/{order['id']}/ready/")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert cancel_uncollected_pickups(now=timezone.now() + timedelta(days=6)) == 0
        assert cancel_uncollected_pickups(now=timezone.now() + timedelta(days=7, minutes=1)) == 1
        assert cancel_uncollected_pickups(now=timezone.now() + timedelta(days=8)) == 0
    row = Order.objects.get()
    assert row.status == "cancelled"
    assert level(shop["shibuya"], shop["coat"]) == (3, 0)
    assert len(mail.outbox) == 1 and order["id"] in mail.outbox[0].body
    call_command("check_stock")
    call_command("check_points")


# --- listing ---------------------------------------------------------------------------------
def test_orders_list_answers_where_is_my_order(pos, shop):
    pickup = place_pickup(pos, shop)
    delivery = pos.post("/api/v1/orders/", ec_order(shop, "EC-2"), format="json").json()
    other = CustomerFactory()
    pos.post("/api/v1/orders/", ec_order(shop, "EC-3", customer=other.public_id), format="json")
    mine = pos.get(f"/api/v1/orders/?customer={shop['customer'].public_id}").json()
    assert [o["id"] for o in mine["results"]] == [delivery["id"], pickup["id"]]
    assert mine["next"] is None
    at_shibuya = pos.get("/api/v1/orders/?store=SHIBUYA&status=placed").json()["results"]
    assert [o["id"] for o in at_shibuya] == [pickup["id"]]
    assert pos.get("/api/v1/orders/?status=shipped").json()["results"] == []


@pytest.mark.parametrize(
    ("query", "field"), [("customer=cus_nope", "customer"), ("store=NOWHERE", "store"), ("status=lost", "status"),
                         ("limit=0", "limit"), ("cursor=zzz", "cursor")],
)  # fmt: skip
def test_orders_list_with_a_bad_filter_names_it(pos, query, field):
    response = pos.get(f"/api/v1/orders/?{query}")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_orders_list_needs_the_orders_scope(api):
    assert api("customers:read").get("/api/v1/orders/").status_code == 403


def test_a_page_of_orders_runs_a_fixed_number_of_queries(pos, shop):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(3):
        place_pickup(pos, shop, ref=f"EC-{i}")
    pos.get("/api/v1/orders/")  # the key loaded into this process's cache
    with CaptureQueriesContext(connection) as few:
        assert len(pos.get("/api/v1/orders/").json()["results"]) == 3
    for i in range(3, 9):
        assert pos.post("/api/v1/orders/", ec_order(shop, f"EC-{i}", customer=CustomerFactory().public_id),
                        format="json").status_code == 201  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        assert len(pos.get("/api/v1/orders/").json()["results"]) == 9
    assert len(many.captured_queries) == len(few.captured_queries) <= 8


@pytest.mark.parametrize("state", ["placed_pickup", "ready_for_pickup", "cancelled"])
def test_a_pickup_not_yet_collected_is_cancelled_not_returned(pos, shop, state):
    order = order_in(state, pos, shop)
    movements = StockMovement.objects.count()
    response = pos.post(f"/api/v1/orders/{order['id']}/returns/", {"lines": [{"sku": "COAT-1", "quantity": 1}]},
                        format="json")  # fmt: skip
    assert response.status_code == 409 and response.json()["code"] == "invalid_state"
    assert StockMovement.objects.count() == movements


def test_a_collected_pickup_returned_goes_back_to_the_pickup_store(pos, shop):
    order = order_in("collected", pos, shop)
    response = pos.post(f"/api/v1/orders/{order['id']}/returns/", {"lines": [{"sku": "COAT-1", "quantity": 1}]},
                        format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    assert level(shop["shibuya"], shop["coat"]) == (3, 0)
    ledgers_agree()


def test_an_online_order_cannot_name_a_reservation(pos, shop):
    body = ec_order(shop, lines=[{"sku": "COAT-1", "quantity": 1, "unit_price": 20000, "reservation": "ACDEFG"}])
    response = pos.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 400 and "lines.0.reservation" in response.json()["errors"]
    assert not Order.objects.exists()
