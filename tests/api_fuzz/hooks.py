"""Schemathesis hooks for the fuzz run: the schema's ids become the seeded ones (plus one unknown id),
so that generated requests reach the write paths (orders, segments, campaigns, redeem, handoff)
instead of stopping at 404. SCHEMATHESIS_HOOKS=tests.api_fuzz.hooks, FUZZ_SEED=<seed.py's JSON>."""

import json
import os
from datetime import UTC, datetime

import schemathesis

with open(os.environ["FUZZ_SEED"], encoding="utf-8") as seed_file:
    SEED = json.load(seed_file)
# Path parameter or body property name → seeded values.
KNOWN = {
    "customer_id": SEED["customer_id"], "order_id": SEED["order_id"], "reservation_id": SEED["reservation_id"],
    "segment_id": SEED["segment_id"], "campaign_id": SEED["campaign_id"], "sku": SEED["sku"],
    "customer": SEED["customer_id"], "store": SEED["store"], "segment": SEED["segment_id"],
    "member_number": SEED["member_number"],
}  # fmt: skip


def _examples() -> dict[tuple[str, str], object]:
    """One valid body per write endpoint the run must reach (the examples phase sends them first)."""
    now = datetime.now(UTC).isoformat()
    customer, other = SEED["customer_id"][0], SEED["customer_id"][1]
    rules = {"all": [{"field": "prefecture", "op": "eq", "value": "東京都"}]}
    return {
        ("post", "/api/v1/orders/"): {
            "source": "fuzz", "external_ref": "FZ-EXAMPLE-1", "channel": "store", "store": SEED["store"][0],
            "customer": customer, "ordered_at": now, "redeem_points": 100,
            "lines": [{"sku": SEED["sku"][0], "quantity": 1, "unit_price": 1000}],
        },
        ("post", "/api/v1/orders/{order_id}/returns/"): {"lines": [{"sku": SEED["sku"][0], "quantity": 1}]},
        ("post", "/api/v1/segments/"): {"name": "Fuzz example", "rules": rules},
        ("post", "/api/v1/segments/preview/"): {"rules": rules},
        ("post", "/api/v1/campaigns/"): {
            "name": "Fuzz example", "segment": SEED["segment_id"][0], "subject": "{{ customer.family_name }}様",
            "from_email": "Shop <news@shop.example>", "body_text": "セール {{ unsubscribe_url }}",
        },
        ("post", "/api/v1/loyalty/{customer_id}/redeem/"): {"points": 10, "reference": "FZ-R-1", "channel": "store"},
        ("post", "/api/v1/loyalty/{customer_id}/adjust/"): {"points": 100, "reason": "fuzz example"},
        ("post", "/api/v1/hub/handoff/"): {
            "conversation_id": "fz-conversation-1", "sender": {"email": "fuzz0@example.jp"}, "reason": "urgent",
            "transcript": [{"role": "customer", "text": "help", "at": now}],
        },
        ("post", "/api/v1/hub/messages/"): {
            "channel": "line", "external_message_id": "fz-message-1", "body": "hello", "sent_at": now,
            "sender": {"channel": "line", "external_id": "U-fuzz"},
        },
        ("post", "/api/v1/customers/link/"): {
            "channel": "app", "external_id": "fz-app-1", "member_number": SEED["member_number"][0],
            "phone": "090-1234-5600",
        },
        ("post", "/api/v1/inventory/reservations/"): {
            "sku": SEED["sku"][1], "store": SEED["store"][0], "quantity": 1, "kind": "hold", "customer": other,
        },
        ("post", "/api/v1/hub/email/"): (
            "From: Fuzz <fuzz1@example.jp>\r\nSubject: hello\r\nMessage-ID: <fz-1@example.jp>\r\n\r\nhello"
        ),
    }  # fmt: skip


def _known(schema: dict, name: str) -> None:
    if name in KNOWN and schema.get("type") == "string" and "enum" not in schema:
        schema["enum"] = [*KNOWN[name], f"unknown-{name}"] + ([None] if schema.get("nullable") else [])
        for bound in ("minLength", "maxLength", "pattern", "format"):
            schema.pop(bound, None)


def _walk(node) -> None:
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            if isinstance(prop, dict):
                _known(prop, name)
        for value in node.values():
            _walk(value)
    elif isinstance(node, list):
        for value in node:
            _walk(value)


@schemathesis.hook
def before_load_schema(context, raw_schema):
    examples = _examples()
    for path, operations in raw_schema.get("paths", {}).items():
        for method, operation in operations.items():
            example = examples.get((method, path))
            if example is not None:
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    media["example"] = example
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "path":
                    _known(parameter.setdefault("schema", {}), parameter["name"])
                    if parameter["name"] in KNOWN:
                        parameter["example"] = KNOWN[parameter["name"]][0]  # what the examples phase sends
    # Request bodies only (COMPONENT_SPLIT_REQUEST names them *Request): answers must stay as they are.
    schemas = raw_schema.get("components", {}).get("schemas", {})
    _walk({name: schema for name, schema in schemas.items() if name.endswith("Request")})


@schemathesis.serializer("message/rfc822")
def rfc822_serializer(ctx, value):
    """Raw emails (POST /hub/email/): whatever bytes or text was generated, sent as the body."""
    if isinstance(value, bytes):
        return {"data": value}
    return {"data": str(value).encode("utf-8", "surrogatepass")}
