import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.models import Coupon, CouponRedemption, Offer
from campaigns.services.coupons import (
    CODE_ALPHABET,
    CouponRefused,
    check_coupon,
    format_code,
    redeem_coupon,
    release_coupons_of_order,
)

from .coupon_support import make_coupon, make_offer
from .factories import CustomerFactory, ProductFactory, StoreFactory, make_order

pytestmark = pytest.mark.django_db


def basket(amount=5000, category="outerwear", quantity=1):
    return [{"product": ProductFactory(category=category), "quantity": quantity, "unit_price": amount}]


def test_codes_are_long_random_and_unambiguous():
    offer = make_offer()
    codes = {make_coupon(offer).code for _ in range(50)}
    assert len(codes) == 50
    assert all(len(c) == 12 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert format_code("ABCDEFGHJKMN") == "ABCD-EFGH-JKMN"


def test_amount_and_percent_discounts_apply_to_the_offers_categories_only():
    amount = make_coupon(make_offer(value=500, min_spend=0))
    percent = make_coupon(make_offer(kind="percent", value=10, min_spend=0, categories=["outerwear"]))
    lines = basket(4000) + basket(3000, category="shoes")
    assert check_coupon(code=amount.code, lines=lines).discount == 500
    assert check_coupon(code=percent.code, lines=lines).discount == 400  # 10 % of the outerwear only
    assert check_coupon(code=percent.code, lines=basket(3000, category="shoes")).reason == "coupon_not_applicable"


def test_a_code_typed_in_lower_case_full_width_or_with_hyphens_is_found():
    coupon = make_coupon()
    typed = format_code(coupon.code).lower().replace("-", "ー").replace("ー", " - ")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in coupon.code)
    assert check_coupon(code=typed, lines=basket()).valid
    assert check_coupon(code=full_width, lines=basket()).valid


@pytest.mark.parametrize(
    ("offer_fields", "lines_amount", "reason"),
    [
        ({"valid_until": timezone.now() - dt.timedelta(seconds=1),
          "valid_from": timezone.now() - dt.timedelta(days=2)}, 5000, "coupon_expired"),
        ({"valid_from": timezone.now() + dt.timedelta(days=1),
          "valid_until": timezone.now() + dt.timedelta(days=2)}, 5000, "coupon_not_yet_valid"),
        ({"min_spend": 10000}, 5000, "coupon_min_spend"),
    ],
)  # fmt: skip
def test_a_coupon_outside_its_rules_is_refused_with_its_reason(offer_fields, lines_amount, reason):
    coupon = make_coupon(make_offer(**offer_fields))
    check = check_coupon(code=coupon.code, lines=basket(lines_amount))
    assert (check.valid, check.discount, check.reason) == (False, 0, reason)
    assert check.detail


def test_a_customers_coupon_is_refused_to_someone_else_and_to_a_guest():
    owner, other = CustomerFactory(), CustomerFactory()
    coupon = make_coupon(customer=owner)
    assert check_coupon(code=coupon.code, lines=basket(), customer=owner).valid
    assert check_coupon(code=coupon.code, lines=basket(), customer=other).reason == "coupon_other_customer"
    assert check_coupon(code=coupon.code, lines=basket()).reason == "coupon_other_customer"


def test_single_use_code_is_redeemed_once_and_refused_after():
    coupon = make_coupon()
    redemption = redeem_coupon(code=coupon.code, lines=basket(), reference="pos-1", channel="store")
    assert redemption.discount == 500
    with pytest.raises(CouponRefused) as refused:
        redeem_coupon(code=coupon.code, lines=basket(), reference="ec-1", channel="ec")
    assert refused.value.code == "coupon_used" and "coupon_code" in refused.value.errors
    coupon.refresh_from_db()
    assert coupon.uses == 1 and CouponRedemption.objects.count() == 1


def test_multi_use_code_counts_its_uses_and_the_per_customer_limit():
    offer = make_offer(per_customer_limit=1)
    coupon = make_coupon(offer, max_uses=3)
    a, b = CustomerFactory(), CustomerFactory()
    redeem_coupon(code=coupon.code, lines=basket(), reference="1", channel="store", customer=a)
    with pytest.raises(CouponRefused) as refused:
        redeem_coupon(code=coupon.code, lines=basket(), reference="2", channel="ec", customer=a)
    assert refused.value.code == "coupon_used"
    redeem_coupon(code=coupon.code, lines=basket(), reference="3", channel="ec", customer=b)
    with pytest.raises(CouponRefused):  # a guest cannot be counted against a per-customer limit
        redeem_coupon(code=coupon.code, lines=basket(), reference="4", channel="ec")
    coupon.refresh_from_db()
    assert coupon.uses == 2


def test_unknown_code_is_a_field_error_and_writes_nothing():
    with pytest.raises(ValidationError) as error:
        redeem_coupon(code="NOPE-NOPE-NOPE", lines=basket(), reference="x", channel="store")
    assert "coupon_code" in error.value.message_dict
    assert CouponRedemption.objects.count() == 0


def test_a_fully_returned_order_gives_the_coupon_back_once():
    customer = CustomerFactory()
    coupon = make_coupon(customer=customer)
    order = make_order(customer, total=5000)
    redeem_coupon(code=coupon.code, lines=basket(), reference=order.public_id, channel="store", order=order,
                  customer=customer)  # fmt: skip
    assert release_coupons_of_order(order=order) == 1
    assert release_coupons_of_order(order=order) == 0
    coupon.refresh_from_db()
    assert coupon.uses == 0
    assert check_coupon(code=coupon.code, lines=basket(), customer=customer).valid


def test_offer_with_a_bad_percentage_or_range_is_refused():
    with pytest.raises(ValidationError) as error:
        make_offer(kind="percent", value=150)
    assert "value" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        make_offer(valid_until=timezone.now() - dt.timedelta(days=500))
    assert "valid_until" in error.value.message_dict
    assert Offer.objects.count() == 0


# --- API ----------------------------------------------------------------------------------------
OFFER = {
    "name": "秋の10%オフ", "kind": "percent", "value": 10, "min_spend": 3000,
    "valid_from": "2026-01-01T00:00:00+09:00", "valid_until": "2099-01-01T00:00:00+09:00", "per_customer_limit": 1,
}  # fmt: skip


def test_marketer_creates_an_offer_and_issues_a_code_the_pos_validates(api):
    customer = CustomerFactory()
    product = ProductFactory(sku="COAT-1", category="outerwear")
    writer = api("campaigns:write")
    response = writer.post("/api/v1/offers/", OFFER, format="json")
    assert response.status_code == 201
    offer_id = response.json()["id"]
    assert offer_id.startswith("ofr_")
    response = writer.post(f"/api/v1/offers/{offer_id}/codes/", {"customer": customer.public_id}, format="json")
    assert response.status_code == 201
    code = response.json()["code"]
    pos = api("orders:write")
    body = {"code": code, "customer": customer.public_id,
            "lines": [{"sku": product.sku, "quantity": 2, "unit_price": 6000}]}  # fmt: skip
    response = pos.post("/api/v1/coupons/validate/", body, format="json")
    assert response.status_code == 200
    assert response.json() | {"detail": ""} == {"valid": True, "discount": 1200, "reason": None, "detail": ""}
    body["lines"][0]["quantity"] = 0
    assert "lines.0.quantity" in pos.post("/api/v1/coupons/validate/", body, format="json").json()["errors"]


def test_validate_answers_why_a_code_does_not_apply(api):
    coupon = make_coupon(make_offer(min_spend=10000))
    ProductFactory(sku="COAT-2")
    body = {"code": coupon.code, "lines": [{"sku": "COAT-2", "quantity": 1, "unit_price": 5000}]}
    response = api("orders:write").post("/api/v1/coupons/validate/", body, format="json")
    assert response.json()["valid"] is False and response.json()["reason"] == "coupon_not_applicable"
    body["code"] = "ZZZZZZZZZZZZ"
    assert api("orders:write").post("/api/v1/coupons/validate/", body, format="json").json()["reason"] == (
        "coupon_unknown"
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "free"}, "kind"),
        ({"value": 0}, "value"),
        ({"value": 120}, "value"),
        ({"valid_until": "2020-01-01T00:00:00+09:00"}, "valid_until"),
        ({"valid_from": "yesterday"}, "valid_from"),
        ({"per_customer_limit": 0}, "per_customer_limit"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_offer_with_a_bad_value_names_the_field_and_writes_nothing(api, change, field):
    response = api("campaigns:write").post("/api/v1/offers/", {**OFFER, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Offer.objects.count() == 0


def test_codes_for_an_unknown_offer_or_customer_are_refused(api):
    offer = make_offer()
    writer = api("campaigns:write")
    assert writer.post("/api/v1/offers/ofr_nope/codes/", {}, format="json").status_code == 404
    response = writer.post(f"/api/v1/offers/{offer.public_id}/codes/", {"customer": "cus_nope"}, format="json")
    assert response.status_code == 400 and "customer" in response.json()["errors"]
    response = writer.post(f"/api/v1/offers/{offer.public_id}/codes/", {"max_uses": 0}, format="json")
    assert "max_uses" in response.json()["errors"]
    assert Coupon.objects.count() == 0


def test_scopes_of_the_coupon_endpoints(api):
    offer = make_offer()
    assert api("orders:write").post("/api/v1/offers/", OFFER, format="json").status_code == 403
    assert api("campaigns:read").post(f"/api/v1/offers/{offer.public_id}/codes/", {}, format="json").status_code == 403
    assert api("campaigns:write").post("/api/v1/coupons/validate/", {}, format="json").status_code == 403


def test_guessing_codes_is_stopped_after_20_unknown_codes(api):
    coupon = make_coupon()
    ProductFactory(sku="COAT-3")
    client = api("orders:write")
    lines = [{"sku": "COAT-3", "quantity": 1, "unit_price": 5000}]
    for i in range(20):
        assert client.post("/api/v1/coupons/validate/", {"code": f"GUESS{i:07d}", "lines": lines},
                           format="json").status_code == 200  # fmt: skip
    response = client.post("/api/v1/coupons/validate/", {"code": coupon.code, "lines": lines}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_attempts" and int(response["Retry-After"]) > 0


def test_offer_report_counts_redemptions_by_channel_and_store(api):
    offer = make_offer()
    store = StoreFactory(code="SHIBUYA")
    redeem_coupon(code=make_coupon(offer).code, lines=basket(), reference="a", channel="store", store=store)
    redeem_coupon(code=make_coupon(offer).code, lines=basket(), reference="b", channel="ec")
    body = api("campaigns:read").get(f"/api/v1/offers/{offer.public_id}/").json()
    assert body["counts"]["redemptions"] == 2 and body["counts"]["codes"] == 2
    assert body["by_channel"]["store"]["redemptions"] == 1 and body["by_store"]["SHIBUYA"]["discount"] == 500
