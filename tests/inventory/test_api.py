import pytest

from crm.models import Order
from inventory.models import Reservation, StockLevel, StockMovement, StockSyncBatch

from .factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory, next_slot, stock

pytestmark = pytest.mark.django_db

AVAILABILITY = "/api/v1/inventory/availability/"
RESERVATIONS = "/api/v1/inventory/reservations/"
SYNC = "/api/v1/inventory/stock-sync/"


@pytest.fixture
def reader(api):
    return api("inventory:read")


@pytest.fixture
def writer(api):
    return api("inventory:write")


# --- availability ---------------------------------------------------------------------------------


def test_availability_lists_every_location_with_the_warehouse_first(reader, django_assert_max_num_queries):
    warehouse, product = WarehouseFactory(), ProductFactory(sku="COAT")
    shibuya = StoreFactory(code="S1", name="渋谷店", prefecture="東京都")
    StoreFactory(code="S2", name="梅田店", prefecture="大阪府")
    stock(warehouse, product, 9)
    stock(shibuya, product, 3)
    reader.get(AVAILABILITY, {"sku": "COAT"})  # the key loaded into this process's cache
    with django_assert_max_num_queries(1):  # the product and every location's stock in one statement
        response = reader.get(AVAILABILITY, {"sku": "COAT"})
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"store": "EC-WH", "store_name": "EC倉庫", "kind": "warehouse", "prefecture": "千葉県", "available": 9},
            {"store": "S1", "store_name": "渋谷店", "kind": "store", "prefecture": "東京都", "available": 3},
            {"store": "S2", "store_name": "梅田店", "kind": "store", "prefecture": "大阪府", "available": 0},
        ],
        "next": None,
    }


def test_availability_by_prefecture_keeps_the_warehouse(reader):
    WarehouseFactory()
    ProductFactory(sku="COAT")
    StoreFactory(code="S1", prefecture="東京都")
    StoreFactory(code="S2", prefecture="大阪府")
    response = reader.get(AVAILABILITY, {"sku": "COAT", "prefecture": "大阪府"})
    assert [r["store"] for r in response.json()["results"]] == ["EC-WH", "S2"]


def test_availability_of_a_known_sku_with_no_active_location_is_an_empty_list_not_404(reader):
    ProductFactory(sku="COAT")
    StoreFactory(code="S1", active=False)
    response = reader.get(AVAILABILITY, {"sku": "COAT"})
    assert response.status_code == 200
    assert response.json() == {"results": [], "next": None}


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [({}, 400, "sku"), ({"sku": "COAT", "prefecture": "Tokyo"}, 400, "prefecture"), ({"sku": "NOPE"}, 404, None)],
)
def test_availability_with_bad_parameters_is_refused(reader, params, status, field):
    ProductFactory(sku="COAT")
    response = reader.get(AVAILABILITY, params)
    assert response.status_code == status
    body = response.json()
    assert body["code"] == ("validation_error" if status == 400 else "not_found")
    if field:
        assert field in body["errors"]


def test_availability_needs_the_inventory_read_scope(api):
    ProductFactory(sku="COAT")
    assert api("catalog:read").get(AVAILABILITY, {"sku": "COAT"}).status_code == 403


# --- reservations ------------------------------------------------------------------------------------


@pytest.fixture
def shop():
    store, product, customer = StoreFactory(code="S1"), ProductFactory(sku="COAT"), CustomerFactory()
    stock(store, product, 2)
    return store, product, customer


def body(customer_, **overrides):
    return {"sku": "COAT", "store": "S1", "quantity": 1, "kind": "hold", "customer": customer_.public_id, **overrides}


def test_reserving_answers_201_with_the_pickup_code_and_expiry(writer, shop):
    _, _, customer = shop
    response = writer.post(RESERVATIONS, body(customer), format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["id"].startswith("rsv_")
    assert data["status"] == "active"
    assert len(data["pickup_code"]) == 6
    assert data["expires_at"]
    assert StockLevel.objects.get().reserved == 1


def test_reserving_more_than_available_answers_409_out_of_stock_and_writes_nothing(writer, shop):
    _, _, customer = shop
    response = writer.post(RESERVATIONS, body(customer, quantity=3), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "out_of_stock"
    assert Reservation.objects.count() == 0
    assert StockLevel.objects.get().reserved == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -2}, "quantity"),
        ({"quantity": "many"}, "quantity"),
        ({"sku": "NOPE"}, "sku"),
        ({"store": "NOPE"}, "store"),
        ({"customer": "cus_NOPE"}, "customer"),
        ({"kind": "borrow"}, "kind"),
        ({"kind": "try_on"}, "slot_start"),
        ({"kind": "try_on", "slot_start": "2020-01-01T10:00:00+09:00"}, "slot_start"),
        ({"kind": "try_on", "store": "EC-WH", "slot_start": "2099-01-01T10:00:00+09:00"}, "store"),
        ({"kind": "hold", "store": "EC-WH"}, "store"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_reservation_requests_answer_400_naming_the_field_and_write_nothing(writer, shop, overrides, field):
    warehouse = WarehouseFactory()
    stock(warehouse, shop[1], 5)
    moves = StockMovement.objects.count()
    response = writer.post(RESERVATIONS, body(shop[2], **overrides), format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["errors"]
    assert Reservation.objects.count() == 0
    assert StockMovement.objects.count() == moves


def test_a_try_on_in_the_future_is_booked(writer, shop):
    slot = next_slot().isoformat()
    response = writer.post(RESERVATIONS, body(shop[2], kind="try_on", slot_start=slot), format="json")
    assert response.status_code == 201
    assert response.json()["kind"] == "try_on"


def test_a_retried_reservation_with_the_same_key_reserves_once(writer, shop):
    first = writer.post(RESERVATIONS, body(shop[2]), format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    again = writer.post(RESERVATIONS, body(shop[2]), format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert Reservation.objects.count() == 1


def test_fulfil_and_cancel_answer_200_and_cancelling_a_handed_over_one_is_409(writer, shop):
    a = writer.post(RESERVATIONS, body(shop[2]), format="json").json()["id"]
    b = writer.post(RESERVATIONS, body(shop[2]), format="json").json()["id"]
    done = writer.post(f"{RESERVATIONS}{a}/fulfill/")
    assert (done.status_code, done.json()["status"]) == (200, "fulfilled")
    cancelled = writer.post(f"{RESERVATIONS}{b}/cancel/")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    refused = writer.post(f"{RESERVATIONS}{a}/cancel/")
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_state")
    level = StockLevel.objects.get()
    assert (level.on_hand, level.reserved) == (1, 0)


def test_an_unknown_reservation_answers_404(writer):
    response = writer.post(f"{RESERVATIONS}rsv_NOPE/fulfill/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_reserving_needs_the_inventory_write_scope(api, shop):
    assert api("inventory:read").post(RESERVATIONS, body(shop[2]), format="json").status_code == 403
    assert Reservation.objects.count() == 0


# --- orders (crm's endpoint, inventory's receiver) -------------------------------------------------------


def test_an_ec_order_without_stock_answers_409_out_of_stock_and_records_nothing(api, shop):
    WarehouseFactory()
    order = {
        "source": "ec", "external_ref": "EC-1", "channel": "ec", "ordered_at": "2026-11-20T10:00:00+09:00",
        "lines": [{"sku": "COAT", "quantity": 5, "unit_price": 1000}],
    }  # fmt: skip
    response = api("orders:write").post("/api/v1/orders/", order, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "out_of_stock"
    assert "lines.0.quantity" in response.json()["errors"]
    assert Order.objects.count() == 0


def test_an_ec_order_shipped_from_a_store_says_where(api, shop):
    WarehouseFactory()
    order = {
        "source": "ec", "external_ref": "EC-2", "channel": "ec", "ordered_at": "2026-11-20T10:00:00+09:00",
        "lines": [{"sku": "COAT", "quantity": 1, "unit_price": 1000}],
    }  # fmt: skip
    response = api("orders:write").post("/api/v1/orders/", order, format="json")
    assert response.status_code == 201
    assert (response.json()["store"], response.json()["fulfilled_from"]) == ("EC-WH", "S1")


# --- stock sync -------------------------------------------------------------------------------------------


def test_stock_sync_applies_valid_rows_and_lists_bad_ones(writer, shop):
    counts = [{"sku": "COAT", "on_hand": 7}, {"sku": "NOPE", "on_hand": 1}, {"sku": "COAT", "on_hand": 1}]
    response = writer.post(SYNC, {"store": "S1", "counts": counts}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["applied"] == 1
    assert data["errors"] == [
        {"row": 1, "sku": "NOPE", "code": "unknown_sku"},
        {"row": 2, "sku": "COAT", "code": "duplicate_sku"},
    ]
    assert StockLevel.objects.get().on_hand == 7


def test_a_resent_sync_batch_is_applied_once(writer, shop):
    payload = {"store": "S1", "counts": [{"sku": "COAT", "on_hand": 7}], "batch": "pos-20261120"}
    first = writer.post(SYNC, payload, format="json")
    StockLevel.objects.update(on_hand=2)
    again = writer.post(SYNC, payload, format="json")
    assert first.json() == again.json()
    assert StockLevel.objects.get().on_hand == 2
    conflict = writer.post(SYNC, {**payload, "counts": [{"sku": "COAT", "on_hand": 8}]}, format="json")
    assert (conflict.status_code, conflict.json()["code"]) == (422, "idempotency_conflict")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"store": "NOPE", "counts": []}, "store"),
        ({"store": "S1"}, "counts"),
        ({"store": "S1", "counts": {"sku": "COAT"}}, "counts"),
        ({"store": "S1", "counts": [{"sku": "COAT", "on_hand": 1}] * 10_001}, "counts"),
        ({"store": "S1", "counts": [], "extra": 1}, "extra"),
    ],
)
def test_bad_stock_sync_requests_answer_400_and_write_nothing(writer, shop, payload, field):
    moves = StockMovement.objects.count()
    response = writer.post(SYNC, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert StockSyncBatch.objects.count() == 0
    assert StockMovement.objects.count() == moves


def test_a_ten_thousand_row_sync_is_applied(writer):
    store = StoreFactory(code="S1")
    from crm.models import Product

    Product.objects.bulk_create(Product(sku=f"P{i:05d}", name=f"p{i}", price=100) for i in range(10_000))
    counts = [{"sku": f"P{i:05d}", "on_hand": i % 7} for i in range(10_000)]
    response = writer.post(SYNC, {"store": "S1", "counts": counts}, format="json")
    assert response.status_code == 200
    assert response.json()["applied"] == 10_000
    assert StockLevel.objects.filter(store=store).count() == 10_000
    assert StockMovement.objects.filter(kind="count_correction").count() == sum(1 for i in range(10_000) if i % 7)


def test_the_availability_body_is_what_its_declared_fields_give():
    from rest_framework import serializers

    from inventory.api.serializers import AvailabilityOutput
    from inventory.selectors import Availability

    row = Availability("S1", "渋谷店", "store", "東京都", 3)
    assert AvailabilityOutput(row).data == serializers.Serializer.to_representation(AvailabilityOutput(row), row)
