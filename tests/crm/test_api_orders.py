"""Orders and Catalog endpoints: recording sales once, returns, products and stores."""

import pytest

from crm.models import Order, OrderReturn, Product
from crm.signals import order_recorded

from .factories import CustomerFactory, IdentityFactory, ProductFactory, StoreFactory, WarehouseFactory, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def pos(api):
    return api("orders:write")


@pytest.fixture
def shop():
    shop = {
        "store": StoreFactory(code="SHIBUYA"),
        "warehouse": WarehouseFactory(),
        "coat": ProductFactory(sku="COAT-1", price=20000),
        "scarf": ProductFactory(sku="SCARF-1", price=5000),
        "customer": CustomerFactory(),
    }
    for product in (shop["coat"], shop["scarf"]):
        stock(product, shop["warehouse"])  # EC/app orders ship from stock
    return shop


def order_body(shop, **overrides):
    body = {
        "source": "pos-shibuya",
        "external_ref": "R-0001",
        "channel": "store",
        "store": "SHIBUYA",
        "customer": shop["customer"].public_id,
        "ordered_at": "2026-11-20T14:05:00+09:00",
        "lines": [
            {"sku": "COAT-1", "quantity": 1, "unit_price": 20000},
            {"sku": "SCARF-1", "quantity": 2, "unit_price": 4500},
        ],
    }
    body.update(overrides)
    return body


def test_record_a_store_sale(pos, shop):
    response = pos.post("/api/v1/orders/", order_body(shop), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["id"].startswith("ord_")
    assert body["subtotal"] == 29000 and body["total"] == 29000
    assert body["customer"] == shop["customer"].public_id
    assert body["store"] == "SHIBUYA" and body["fulfilled_from"] == "SHIBUYA"
    assert [(line["sku"], line["quantity"], line["amount"]) for line in body["lines"]] == [
        ("COAT-1", 1, 20000),
        ("SCARF-1", 2, 9000),
    ]
    assert body["ordered_at"] == "2026-11-20T14:05:00+09:00"
    assert body["points_balance"] == 290  # loyalty's default rule: 1 point per 100 yen paid


def test_the_same_order_sent_twice_is_recorded_once(pos, shop):
    first = pos.post("/api/v1/orders/", order_body(shop), format="json")
    second = pos.post("/api/v1/orders/", order_body(shop), format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Order.objects.count() == 1


def test_order_recorded_is_sent_after_the_sale_commits(pos, shop, django_capture_on_commit_callbacks):
    # an earlier purchase earns the 500 points this order redeems (1 point per 100 yen)
    pos.post("/api/v1/orders/", order_body(shop, external_ref="R-0000", lines=[
        {"sku": "COAT-1", "quantity": 5, "unit_price": 10000}]), format="json")  # fmt: skip
    seen = []

    def receiver(sender, order, redeem_points, **kwargs):
        seen.append((order.public_id, redeem_points, order.lines.count()))

    order_recorded.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = pos.post("/api/v1/orders/", order_body(shop, redeem_points=500), format="json")
        assert seen == []  # nothing is announced before the commit
        for callback in callbacks:
            callback()
    finally:
        order_recorded.disconnect(receiver)
    assert seen == [(response.json()["id"], 500, 2)]
    assert response.json()["total"] == 28500


def test_a_step_refusing_the_order_leaves_nothing_written(pos, shop, monkeypatch):
    from crm import registry
    from crm.exceptions import DomainError

    class OutOfStock(DomainError):
        code, status = "out_of_stock", 409

    def refuse(draft):
        raise OutOfStock("no stock")

    monkeypatch.setitem(registry._order_steps, "test.refuse", registry.OrderStep("test.refuse", 99, "", refuse))
    response = pos.post("/api/v1/orders/", order_body(shop, channel="ec", store=None), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "out_of_stock"
    assert not Order.objects.exists()
    assert shop["warehouse"].stock_levels.get(product=shop["coat"]).on_hand == 100


def test_ec_order_without_store_ships_from_the_ec_warehouse(pos, shop):
    body = order_body(shop, channel="ec")
    del body["store"]
    response = pos.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201
    assert response.json()["store"] == "EC-WH"


def test_guest_order_and_order_by_channel_identity(pos, shop):
    body = order_body(shop, external_ref="G-1")
    del body["customer"]
    assert pos.post("/api/v1/orders/", body, format="json").json()["customer"] is None
    identity = IdentityFactory(channel="ec", external_id="ec-55")
    body = order_body(
        shop, external_ref="I-1", channel="ec", store=None, customer_identity={"channel": "ec", "external_id": "ec-55"}
    )
    del body["customer"]
    assert pos.post("/api/v1/orders/", body, format="json").json()["customer"] == identity.customer.public_id


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"store": "NOPE"}, "store"),
        ({"customer": "cus_unknown"}, "customer"),
        ({"customer": None, "customer_identity": {"channel": "ec", "external_id": "nobody"}}, "customer_identity"),
        ({"lines": [{"sku": "NOPE", "quantity": 1, "unit_price": 100}]}, "lines.0.sku"),
        ({"lines": [{"sku": "COAT-1", "quantity": 0, "unit_price": 100}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "COAT-1", "quantity": 1, "unit_price": -1}]}, "lines.0.unit_price"),
        ({"lines": [{"sku": "COAT-1", "quantity": "two", "unit_price": 100}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "COAT-1", "quantity": 1.5, "unit_price": 100}]}, "lines.0.quantity"),
        ({"lines": []}, "lines"),
        ({"channel": "fax"}, "channel"),
        ({"ordered_at": "yesterday"}, "ordered_at"),
        ({"redeem_points": -5}, "redeem_points"),
        ({"redeem_points": 999999}, "redeem_points"),
        ({"external_ref": ""}, "external_ref"),
        ({"coupon": "X"}, "coupon"),
        ({"lines": [{"sku": "COAT-1", "quantity": 1, "unit_price": 100, "discount": 5}]}, "lines.0.discount"),
        ({"store": "EC-WH"}, "store"),
    ],
)
def test_bad_order_input_names_the_field_and_writes_nothing(pos, shop, overrides, field):
    response = pos.post("/api/v1/orders/", order_body(shop, **overrides), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
    assert not Order.objects.exists()


def test_guest_cannot_redeem_points(pos, shop):
    body = order_body(shop, redeem_points=100)
    del body["customer"]
    response = pos.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 400
    assert "redeem_points" in response.json()["errors"]


def test_get_order_and_unknown_order(pos, shop):
    order_id = pos.post("/api/v1/orders/", order_body(shop), format="json").json()["id"]
    assert pos.get(f"/api/v1/orders/{order_id}/").json()["id"] == order_id
    assert pos.get("/api/v1/orders/ord_nothing/").status_code == 404


def test_partial_then_full_return(pos, shop):
    order_id = pos.post("/api/v1/orders/", order_body(shop), format="json").json()["id"]
    first = pos.post(
        f"/api/v1/orders/{order_id}/returns/", {"lines": [{"sku": "SCARF-1", "quantity": 1}]}, format="json"
    )
    assert first.status_code == 201, first.json()
    assert first.json()["amount"] == 4500
    assert first.json()["order"]["status"] == "partially_returned"
    second = pos.post(
        f"/api/v1/orders/{order_id}/returns/",
        {"lines": [{"sku": "SCARF-1", "quantity": 1}, {"sku": "COAT-1", "quantity": 1}], "reason": "size"},
        format="json",
    )
    assert second.status_code == 201
    order = second.json()["order"]
    assert order["status"] == "returned" and order["returned_amount"] == 29000


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([{"sku": "SCARF-1", "quantity": 3}], "lines.0.quantity"),
        ([{"sku": "BOOTS", "quantity": 1}], "lines.0.sku"),
        ([{"sku": "COAT-1", "quantity": 0}], "lines.0.quantity"),
        ([], "lines"),
    ],
)
def test_bad_return_is_refused_and_writes_nothing(pos, shop, lines, field):
    order_id = pos.post("/api/v1/orders/", order_body(shop), format="json").json()["id"]
    response = pos.post(f"/api/v1/orders/{order_id}/returns/", {"lines": lines}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not OrderReturn.objects.exists()
    assert Order.objects.get(public_id=order_id).status == "completed"


def test_return_replayed_with_idempotency_key_is_recorded_once(pos, shop):
    order_id = pos.post("/api/v1/orders/", order_body(shop), format="json").json()["id"]
    body = {"lines": [{"sku": "SCARF-1", "quantity": 1}]}
    first = pos.post(f"/api/v1/orders/{order_id}/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="ret-1")
    again = pos.post(f"/api/v1/orders/{order_id}/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="ret-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert OrderReturn.objects.count() == 1


# --- Catalog --------------------------------------------------------------------------------
def test_stores_list_includes_the_ec_warehouse(api, shop):
    response = api("catalog:read").get("/api/v1/stores/")
    assert response.status_code == 200
    assert [(s["code"], s["kind"]) for s in response.json()["results"]] == [
        ("EC-WH", "warehouse"),
        ("SHIBUYA", "store"),
    ]
    assert set(response.json()["results"][0]) == {"code", "name", "kind", "prefecture", "address", "phone"}


def test_products_filter_by_sku_category_and_q(api):
    reader = api("catalog:read")
    ProductFactory(sku="COAT-1", name="ウールコート", category="outerwear", brand="Alpha")
    ProductFactory(sku="TEE-1", name="Tシャツ", category="tops", brand="Beta")
    assert [p["sku"] for p in reader.get("/api/v1/products/", {"category": "tops"}).json()["results"]] == ["TEE-1"]
    assert [p["sku"] for p in reader.get("/api/v1/products/", {"sku": "COAT-1"}).json()["results"]] == ["COAT-1"]
    assert [p["sku"] for p in reader.get("/api/v1/products/", {"q": "コート"}).json()["results"]] == ["COAT-1"]
    assert [p["sku"] for p in reader.get("/api/v1/products/", {"q": "beta"}).json()["results"]] == ["TEE-1"]


def test_put_product_creates_then_updates(api):
    writer = api("catalog:write")
    body = {"name": "ダウンジャケット", "category": "outerwear", "brand": "Alpha", "price": 30000, "active": True}
    created = writer.put("/api/v1/products/DOWN-1/", body, format="json")
    assert created.status_code == 201
    updated = writer.put("/api/v1/products/DOWN-1/", {**body, "price": 25000}, format="json")
    assert updated.status_code == 200 and updated.json()["price"] == 25000
    assert Product.objects.get(sku="DOWN-1").price == 25000


@pytest.mark.parametrize(
    ("sku", "body", "field"),
    [
        ("DOWN-1", {"name": "x", "price": -1}, "price"),
        ("DOWN-1", {"name": "x", "price": "cheap"}, "price"),
        ("DOWN-1", {"price": 100}, "name"),
        ("DOWN-1", {"name": "x" * 201, "price": 100}, "name"),
        ("DOWN-1", {"name": "x", "price": 100, "colour": "red"}, "colour"),
        ("bad%20sku!", {"name": "x", "price": 100}, "sku"),
    ],
)
def test_put_product_with_bad_input_is_400_and_writes_nothing(api, sku, body, field):
    response = api("catalog:write").put(f"/api/v1/products/{sku}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Product.objects.exists()
