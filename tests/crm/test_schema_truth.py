"""The OpenAPI schema tells the truth (audit finding 8): nullable fields are nullable, writes document
413 and 415, every 429 its Retry-After, the Idempotency-Key header its bounds, limits their range."""

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_fields_that_can_be_null_are_nullable(schema):
    components = schema["components"]["schemas"]
    assert components["CustomerOutput"]["properties"]["home_store"]["nullable"] is True
    assert components["TransactionOutput"]["properties"]["store"]["nullable"] is True
    assert components["TransactionOutput"]["properties"]["order"]["nullable"] is True
    assert components["OrderOutput"]["properties"]["customer"]["nullable"] is True


def test_writes_document_413_415_and_every_429_its_retry_after(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "Retry-After" in responses["429"]["headers"], (method, path)
            if method in ("post", "put", "patch"):
                assert {"413", "415"} <= set(responses), (method, path)


def test_idempotent_writes_document_the_header_and_its_bounds(schema):
    idempotent = [
        ("post", "/api/v1/orders/"), ("put", "/api/v1/products/{sku}/"),
        ("post", "/api/v1/loyalty/{customer_id}/adjust/"), ("post", "/api/v1/inventory/stock-sync/"),
    ]  # fmt: skip
    for method, path in idempotent:
        headers = {p["name"]: p for p in schema["paths"][path][method]["parameters"] if p["in"] == "header"}
        assert headers["Idempotency-Key"]["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}


def test_every_limit_parameter_documents_its_range(schema):
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "limit":
                    assert parameter["schema"]["minimum"] == 1 and parameter["schema"]["maximum"] >= 50, path


def test_the_adjust_answer_documents_the_pending_approval(schema):
    responses = schema["paths"]["/api/v1/loyalty/{customer_id}/adjust/"]["post"]["responses"]
    pending = responses["202"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    status = schema["components"]["schemas"][pending]["properties"]["status"]["allOf"][0]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][status]["enum"] == ["pending_approval", "rejected"]


def test_the_order_lifecycle_endpoints_are_described(schema):
    paths = schema["paths"]
    listing = paths["/api/v1/orders/"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"customer", "status", "store", "limit", "cursor"}
    status = next(p for p in listing["parameters"] if p["name"] == "status")["schema"]
    statuses = schema["components"]["schemas"][status["$ref"].rsplit("/", 1)[-1]]["enum"] if "$ref" in status else (
        status["enum"])  # fmt: skip
    assert {"placed", "ready_for_pickup", "shipped", "collected", "delivered", "cancelled"} <= set(statuses)
    for action in ("ship", "ready", "collect", "cancel"):
        operation = paths[f"/api/v1/orders/{{order_id}}/{action}/"]["post"]
        assert {"200", "404", "409"} <= set(operation["responses"]), action
    ship = schema["components"]["schemas"]["ShipInputRequest"]
    assert set(ship["required"]) == {"carrier", "tracking_number"} and ship["properties"]["carrier"]["maxLength"] == 64
    assert schema["components"]["schemas"]["CollectInputRequest"]["required"] == ["pickup_code"]
    assert "422" in paths["/api/v1/orders/{order_id}/collect/"]["post"]["responses"]


def test_orders_describe_fulfilment_in_and_out(schema):
    components = schema["components"]["schemas"]
    order_in = components["OrderInputRequest"]["properties"]
    assert order_in["fulfilment"]["nullable"] is True
    fulfilment_in = components["FulfilmentInputRequest"]
    assert fulfilment_in["required"] == ["type"]
    assert components["OrderLineInputRequest"]["properties"]["reservation"]["maxLength"] == 32
    out = components["OrderOutput"]["properties"]
    assert out["fulfilment"]["nullable"] is True
    assert components["FulfilmentOutput"]["properties"]["pickup_code"]["nullable"] is True
    for name in ("carrier", "tracking_number", "shipped_at", "ready_at", "collected_at", "cancelled_at"):
        assert name in out, name
    conflict = schema["paths"]["/api/v1/orders/"]["post"]["responses"]["409"]["content"]
    problem = conflict["application/problem+json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert components[problem]["properties"]["alternatives"]["type"] == "array"


def test_try_on_slots_are_described(schema):
    operation = schema["paths"]["/api/v1/inventory/try-on-slots/"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["store"]["required"] is True and parameters["date"]["schema"]["format"] == "date"
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    slot = schema["components"]["schemas"][page]["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][slot]["properties"]) == {"start", "end", "free"}
    assert "outside_opening_hours" in operation["description"] and "slot_full" in operation["description"]
