"""Customers endpoints of the contract (shared/API.md): search, create, read, update, resolve, link,
timeline, with the bad input an integration may send."""

import datetime as dt

import pytest

from crm.models import ChannelIdentity, Customer
from crm.services import merge_customers

from .factories import CustomerFactory, IdentityFactory, ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(api):
    return api("customers:read")


@pytest.fixture
def exporter(api):
    """A key allowed to list customers without a search filter (bulk export)."""
    return api("customers:read", "customers:export")


@pytest.fixture
def writer(api):
    return api("customers:read", "customers:write")


def test_search_by_phone_typed_with_hyphens_finds_the_customer(reader):
    hanako = CustomerFactory(phone="+819012345678")
    CustomerFactory(phone="+819099999999")
    response = reader.get("/api/v1/customers/", {"q": "090-1234-5678"})
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [hanako.public_id]


def test_search_by_kana_in_hiragana_half_width_or_katakana_finds_the_same_person(reader):
    tanaka = CustomerFactory(family_name_kana="タナカ", given_name_kana="ハナコ")
    CustomerFactory(family_name="佐藤", given_name="健", family_name_kana="サトウ", given_name_kana="ケン")
    for typed in ("たなか", "ﾀﾅｶ", "タナカ", "タナカ ハナコ", "はなこ"):
        results = reader.get("/api/v1/customers/", {"q": typed}).json()["results"]
        assert [c["id"] for c in results] == [tanaka.public_id], typed


def test_search_by_member_number_email_and_name(reader):
    customer = CustomerFactory(email="hanako@example.jp", family_name="田中", given_name="花子")
    CustomerFactory(family_name="佐藤", given_name="健", family_name_kana="サトウ", given_name_kana="ケン")
    for q in (customer.member_number, "HANAKO@example.jp", "田中", "田中 花子"):
        results = reader.get("/api/v1/customers/", {"q": q}).json()["results"]
        assert [c["id"] for c in results] == [customer.public_id], q


def test_search_filters_by_phone_email_and_member_number(reader):
    customer = CustomerFactory(phone="+81312345678", email="a@example.jp")
    CustomerFactory()
    assert [c["id"] for c in reader.get("/api/v1/customers/", {"phone": "03-1234-5678"}).json()["results"]] == [
        customer.public_id
    ]
    assert [c["id"] for c in reader.get("/api/v1/customers/", {"email": "A@example.jp"}).json()["results"]] == [
        customer.public_id
    ]
    by_number = reader.get("/api/v1/customers/", {"member_number": customer.member_number}).json()["results"]
    assert [c["id"] for c in by_number] == [customer.public_id]


def test_search_with_a_malformed_phone_filter_is_a_clear_400(reader):
    response = reader.get("/api/v1/customers/", {"phone": "not-a-phone"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert "phone" in body["errors"]


def test_search_does_not_list_merged_customers(reader):
    winner, loser = CustomerFactory(email="same@example.jp"), CustomerFactory(email="same@example.jp")
    merge_customers(winner=winner, loser=loser, reason="same person")
    results = reader.get("/api/v1/customers/", {"email": "same@example.jp"}).json()["results"]
    assert [c["id"] for c in results] == [winner.public_id]


def test_list_is_paginated_with_limit_and_cursor(exporter):
    reader = exporter
    created = [CustomerFactory() for _ in range(5)]
    first = reader.get("/api/v1/customers/", {"limit": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    seen = [c["id"] for c in first["results"]]
    page = first
    while page["next"]:
        page = reader.get(page["next"]).json()
        seen += [c["id"] for c in page["results"]]
    assert sorted(seen) == sorted(c.public_id for c in created)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("limit", ["0", "501", "abc", "-1"])
def test_bad_limit_is_a_400_naming_limit(exporter, limit):
    response = exporter.get("/api/v1/customers/", {"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["errors"]


def test_bad_cursor_is_a_400_naming_cursor(exporter):
    response = exporter.get("/api/v1/customers/", {"cursor": "garbage!"})
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_create_normalises_contact_data_and_generates_a_member_number(writer):
    store = StoreFactory(code="SHIBUYA")
    response = writer.post(
        "/api/v1/customers/",
        {
            "family_name": "山田",
            "given_name": "太郎",
            "family_name_kana": "やまだ",
            "given_name_kana": "ﾀﾛｳ",
            "email": " Taro.Yamada@Example.JP ",
            "phone": "090-1111-2222",
            "birth_date": "1985-07-01",
            "prefecture": "東京都",
            "home_store": "SHIBUYA",
            "email_opt_in": True,
            "identities": [{"channel": "ec", "external_id": "ec-42"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["id"].startswith("cus_")
    assert body["email"] == "taro.yamada@example.jp"
    assert body["phone"] == "+819011112222"
    assert body["family_name_kana"] == "ヤマダ" and body["given_name_kana"] == "タロウ"
    assert len(body["member_number"]) == 12
    assert body["home_store"] == store.code
    assert body["identities"] == [{"channel": "ec", "external_id": "ec-42"}]
    assert body["points_balance"] == 0
    customer = Customer.objects.get(public_id=body["id"])
    assert customer.email_opt_in_source == "api" and customer.email_opt_in_at is not None


def test_create_with_an_identity_linked_elsewhere_is_409_and_writes_nothing(writer):
    IdentityFactory(channel="line", external_id="U123")
    before = Customer.objects.count()
    response = writer.post(
        "/api/v1/customers/",
        {"family_name": "新規", "identities": [{"channel": "line", "external_id": "U123"}]},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "identity_conflict"
    assert Customer.objects.count() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"phone": "abc-defg"}, "phone"),
        ({"birth_date": "1990-13-45"}, "birth_date"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"prefecture": "Tokyo"}, "prefecture"),
        ({"home_store": "NOPE"}, "home_store"),
        ({"email_opt_in": "maybe"}, "email_opt_in"),
        ({"family_name": "x" * 51}, "family_name"),
        ({"postal_code": "abc"}, "postal_code"),
        ({"member_number": "!!"}, "member_number"),
        ({"nickname": "Hana"}, "nickname"),
        ({"identities": [{"channel": "myspace", "external_id": "1"}]}, "identities.0.channel"),
        ({"identities": [{"channel": "ec"}]}, "identities.0.external_id"),
    ],
)
def test_create_with_bad_input_names_the_field_and_writes_nothing(writer, body, field):
    response = writer.post("/api/v1/customers/", body, format="json")
    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert field in problem["errors"], problem
    assert Customer.objects.count() == 0


def test_create_with_an_existing_member_number_is_refused(writer):
    existing = CustomerFactory()
    response = writer.post("/api/v1/customers/", {"member_number": existing.member_number}, format="json")
    assert response.status_code == 400
    assert "member_number" in response.json()["errors"]
    assert Customer.objects.count() == 1


def test_malformed_json_is_a_400_parse_error(writer):
    response = writer.post("/api/v1/customers/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_oversized_body_is_refused(writer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = writer.post("/api/v1/customers/", {"address": "x" * 5000}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert Customer.objects.count() == 0


def test_get_a_merged_id_answers_with_the_survivor(reader):
    winner, loser = CustomerFactory(), CustomerFactory()
    merge_customers(winner=winner, loser=loser, reason="same person")
    response = reader.get(f"/api/v1/customers/{loser.public_id}/")
    assert response.status_code == 200
    assert response.json()["id"] == winner.public_id


def test_unknown_customer_is_404_not_found(reader):
    response = reader.get("/api/v1/customers/cus_nothing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_patch_updates_profile_and_stamps_consent(writer):
    customer = CustomerFactory(sms_opt_in=False)
    response = writer.patch(
        f"/api/v1/customers/{customer.public_id}/", {"phone": "+81 80-1234-5678", "sms_opt_in": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["phone"] == "+818012345678"
    customer.refresh_from_db()
    assert customer.sms_opt_in and customer.sms_opt_in_source == "api" and customer.sms_opt_in_at


def test_patch_with_bad_email_changes_nothing(writer):
    customer = CustomerFactory(email="keep@example.jp")
    response = writer.patch(
        f"/api/v1/customers/{customer.public_id}/", {"email": "broken", "given_name": "変更"}, format="json"
    )
    assert response.status_code == 400
    customer.refresh_from_db()
    assert customer.email == "keep@example.jp" and customer.given_name == "花子"


def test_resolve_finds_the_customer_behind_a_channel_account(reader):
    identity = IdentityFactory(channel="app", external_id="app-7")
    response = reader.get("/api/v1/customers/resolve/", {"channel": "app", "external_id": "app-7"})
    assert response.status_code == 200
    assert response.json()["id"] == identity.customer.public_id


def test_resolve_unknown_account_is_404_and_missing_params_400(reader):
    assert reader.get("/api/v1/customers/resolve/", {"channel": "app", "external_id": "x"}).status_code == 404
    response = reader.get("/api/v1/customers/resolve/", {"channel": "fax"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"channel", "external_id"}


def test_link_with_birth_date_proof_links_and_returns_the_customer_for_autofill(writer):
    customer = CustomerFactory(birth_date=dt.date(1990, 4, 1))
    response = writer.post(
        "/api/v1/customers/link/",
        {"channel": "ec", "external_id": "ec-9", "member_number": customer.member_number, "birth_date": "1990-04-01"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["id"] == customer.public_id
    assert response.json()["email"] == customer.email
    assert ChannelIdentity.objects.get(channel="ec", external_id="ec-9").customer == customer


def test_link_with_phone_proof_in_any_format(writer):
    customer = CustomerFactory(phone="+819012345678")
    response = writer.post(
        "/api/v1/customers/link/",
        {"channel": "line", "external_id": "U1", "member_number": customer.member_number, "phone": "090-1234-5678"},
        format="json",
    )
    assert response.status_code == 200


def test_link_with_wrong_proof_is_422_and_links_nothing(writer):
    customer = CustomerFactory(birth_date=dt.date(1990, 4, 1))
    for proof in ({"birth_date": "1991-04-01"}, {"phone": "090-0000-0000"}):
        response = writer.post(
            "/api/v1/customers/link/",
            {"channel": "ec", "external_id": "ec-9", "member_number": customer.member_number, **proof},
            format="json",
        )
        assert response.status_code == 422
        assert response.json()["code"] == "proof_mismatch"
    unknown = writer.post(
        "/api/v1/customers/link/",
        {"channel": "ec", "external_id": "ec-9", "member_number": "000000000000", "birth_date": "1990-04-01"},
        format="json",
    )
    assert unknown.status_code == 422
    assert not ChannelIdentity.objects.exists()


def test_link_without_proof_is_400(writer):
    customer = CustomerFactory()
    response = writer.post(
        "/api/v1/customers/link/",
        {"channel": "ec", "external_id": "ec-9", "member_number": customer.member_number},
        format="json",
    )
    assert response.status_code == 400
    assert "birth_date" in response.json()["errors"]


def test_link_an_account_owned_by_someone_else_is_409(writer):
    IdentityFactory(channel="ec", external_id="ec-9")
    customer = CustomerFactory(birth_date=dt.date(1990, 4, 1))
    response = writer.post(
        "/api/v1/customers/link/",
        {"channel": "ec", "external_id": "ec-9", "member_number": customer.member_number, "birth_date": "1990-04-01"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "identity_conflict"


def test_timeline_lists_orders_and_returns_newest_first_with_pagination(api):
    from crm.services import record_order, record_return

    client = api("customers:read")
    store, product = StoreFactory(), ProductFactory()
    customer = CustomerFactory()
    base = dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    orders = [
        record_order(
            source="pos", external_ref=f"r{i}", channel="store", store=store, customer=customer,
            ordered_at=base + dt.timedelta(days=i), lines=[{"product": product, "quantity": 1, "unit_price": 1000}],
        )[0]
        for i in range(3)
    ]  # fmt: skip
    record_return(order=orders[0], lines=[{"sku": product.sku, "quantity": 1}])
    page = client.get(f"/api/v1/customers/{customer.public_id}/timeline/", {"limit": 2}).json()
    # loyalty adds its point transactions (written now) to the timeline; this test is about crm's entries
    crm_kinds = ("order", "return")
    entries = [e for e in page["results"] if e["kind"] in crm_kinds]
    while page["next"]:
        page = client.get(page["next"]).json()
        entries += [e for e in page["results"] if e["kind"] in crm_kinds]
    assert entries[0]["kind"] == "return"
    assert [e["id"] for e in entries[1:]] == [orders[2].public_id, orders[1].public_id, orders[0].public_id]


# --- The hot reads: a fixed, minimal number of queries ---------------------------------------------
@pytest.fixture
def member():
    customer = CustomerFactory(phone="+819012345678", home_store=StoreFactory(code="SHIBUYA"))
    IdentityFactory(customer=customer, channel="ec", external_id="EC-1")
    IdentityFactory(customer=customer, channel="line", external_id="U-1")
    return customer


@pytest.mark.parametrize(
    ("path", "queries"),
    [
        # identity+customer+store, identities, points, and the access log's one insert (who saw whom)
        ("/api/v1/customers/resolve/?channel=ec&external_id=EC-1", 4),
        ("/api/v1/customers/?member_number={member_number}", 4),  # customers+store, identities, points, log
        ("/api/v1/customers/?phone=090-1234-5678", 4),
        ("/api/v1/customers/{public_id}/", 4),  # customer+store, identities, points, log
    ],
)
def test_customer_reads_run_a_fixed_number_of_queries(reader, member, path, queries, django_assert_num_queries):
    path = path.format(member_number=member.member_number, public_id=member.public_id)
    reader.get(path)  # the key loaded into this process's cache
    with django_assert_num_queries(queries):
        response = reader.get(path)
    body = response.json()
    customer = body["results"][0] if "results" in body else body
    assert customer["id"] == member.public_id and customer["home_store"] == "SHIBUYA"
    assert customer["identities"] == [
        {"channel": "ec", "external_id": "EC-1"},
        {"channel": "line", "external_id": "U-1"},
    ]


def test_the_customer_body_is_what_its_declared_fields_give(member, settings):
    """CustomerOutput builds its body directly; it must stay what DRF's fields would produce."""
    from rest_framework import serializers

    from crm.api.serializers import CustomerOutput

    bare = CustomerFactory(birth_date=None, home_store=None, email="", phone="")
    for customer in (member, bare, Customer.objects.get(pk=member.pk)):
        fast = CustomerOutput(customer).data
        generic = serializers.ModelSerializer.to_representation(CustomerOutput(customer), customer)
        assert dict(fast) == dict(generic)
    settings.TIME_ZONE = "UTC"  # an offset of zero is written Z, as DRF does
    fast = CustomerOutput(member).data
    assert fast == serializers.ModelSerializer.to_representation(CustomerOutput(member), member)


# --- Link proof cannot be brute-forced, and tells no more than autofill needs (audit finding 3) ---
def _link(client, member_number, external_id="ec-9", **proof):
    body = {"channel": "ec", "external_id": external_id, "member_number": member_number, **proof}
    return client.post("/api/v1/customers/link/", body, format="json")


def test_five_wrong_proofs_lock_the_member_for_the_hour_even_for_the_right_one(writer, monkeypatch):
    import time

    customer = CustomerFactory(birth_date=dt.date(1990, 4, 1))
    other = CustomerFactory(birth_date=dt.date(1980, 1, 1))
    for day in range(1, 6):
        assert _link(writer, customer.member_number, birth_date=f"1990-01-0{day}").status_code == 422
    for proof in ({"birth_date": "1990-04-01"}, {"birth_date": "1990-01-09"}):
        response = _link(writer, customer.member_number, **proof)
        assert response.status_code == 429 and response.json()["code"] == "too_many_attempts"
        assert 0 < int(response["Retry-After"]) <= 3600
    assert not ChannelIdentity.objects.exists()
    # Another member is not affected, and the hour is counted for the member, not the key.
    assert _link(writer, other.member_number, "ec-other", birth_date="1980-01-01").status_code == 200
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3601)
    assert _link(writer, customer.member_number, birth_date="1990-04-01").status_code == 200


def test_unknown_member_numbers_lock_alike_so_the_answer_tells_nothing(writer):
    for _ in range(5):
        assert _link(writer, "999999999999", birth_date="1990-01-01").status_code == 422
    assert _link(writer, "999999999999", birth_date="1990-01-01").status_code == 429


def test_a_right_proof_does_not_count_as_a_wrong_one(writer):
    customer = CustomerFactory(birth_date=dt.date(1990, 4, 1))
    for i in range(4):
        assert _link(writer, customer.member_number, birth_date="1990-01-01").status_code == 422
        assert _link(writer, customer.member_number, f"ec-{i}", birth_date="1990-04-01").status_code == 200
    assert _link(writer, customer.member_number, birth_date="1990-01-01").status_code == 422


def test_the_link_answer_gives_autofill_data_but_not_what_the_caller_did_not_prove(writer):
    customer = CustomerFactory(birth_date=dt.date(1990, 4, 1), phone="+819012345678")
    IdentityFactory(customer=customer, channel="line", external_id="U-secret")
    by_phone = _link(writer, customer.member_number, phone="090-1234-5678").json()
    assert by_phone["email"] == customer.email and by_phone["family_name"] == customer.family_name
    assert by_phone["birth_date"] is None  # proved by phone: the birth date stays private
    assert by_phone["identities"] == [{"channel": "ec", "external_id": "ec-9"}]  # not the LINE account
    by_birth_date = _link(writer, customer.member_number, birth_date="1990-04-01").json()
    assert by_birth_date["birth_date"] == "1990-04-01"
