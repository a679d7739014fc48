"""Staff search (issue 14, items 6 and 7): a total and pages, customer/order/EC ids, card numbers typed
in groups, a check-digit hint, and merged records' cards, phones and emails leading to the survivor in
the staff search and the API; merges that never blank a survivor's value unless staff choose so, with
the replaced values kept in the merge log."""

import pytest
from django.urls import reverse

from crm.ids import luhn_check_digit
from crm.models import CustomerMerge
from crm.services import merge_customers
from tests.crm.factories import CustomerFactory, IdentityFactory, StoreFactory, UserFactory
from tests.crm.test_views import sell
from tests.mfa import login_as

pytestmark = pytest.mark.django_db
SEARCH = reverse("crm:customer_search")


def text(response) -> str:
    return response.content.decode()


def card(body11: str) -> str:
    return body11 + luhn_check_digit(body11)


@pytest.fixture
def staff(client):
    user = UserFactory(role="store_staff")
    login_as(client, user)
    return user


def results(response) -> int:
    return text(response).count('class="result"')


# --- search ------------------------------------------------------------------------------------
def test_search_shows_the_total_and_pages_through_every_match(client, staff):
    CustomerFactory.create_batch(83, family_name_kana="ヤマダ")
    first = client.get(SEARCH, {"q": "ヤマダ"})
    assert "83 customers found" in text(first) and "page 1 of 5" in text(first) and results(first) == 20
    last = client.get(SEARCH, {"q": "ヤマダ", "page": 5})
    assert results(last) == 3 and "showing 81–83" in text(last) and 'rel="prev"' in text(last)
    beyond = client.get(SEARCH, {"q": "ヤマダ", "page": 99})
    assert beyond.status_code == 200 and results(beyond) == 3


@pytest.mark.parametrize("page", ["x", "0", "-1", "1e9", "９９９９９９９"])
def test_a_bad_page_number_is_a_400_not_a_500(client, staff, page):
    CustomerFactory(family_name_kana="ヤマダ")
    assert client.get(SEARCH, {"q": "ヤマダ", "page": page}).status_code == 400


def test_search_by_customer_id_also_a_merged_one(client, staff):
    survivor, old = CustomerFactory(family_name="生存"), CustomerFactory(family_name="旧")
    merge_customers(winner=survivor, loser=old, reason="same")
    for q in (survivor.public_id, old.public_id):
        body = text(client.get(SEARCH, {"q": q}))
        assert survivor.member_number in body and "1 customer found" in body


def test_search_by_order_id_ec_order_number_and_ec_account(client, staff):
    buyer = CustomerFactory(family_name="購入")
    order = sell(buyer, ref="EC-20261205-001")
    IdentityFactory(customer=buyer, channel="ec", external_id="ec-user-7781")
    CustomerFactory.create_batch(3)
    for q in (order.public_id, "EC-20261205-001", "ec-user-7781"):
        response = client.get(SEARCH, {"q": q})
        assert results(response) == 1 and buyer.member_number in text(response), q


@pytest.mark.parametrize("typed", ["{a} {b} {c}", "{a}-{b}-{c}", "　{a}　{b}　{c}"])
def test_a_card_number_typed_in_groups_finds_the_member(client, staff, typed):
    number = card("12345678901")
    member = CustomerFactory(member_number=number)
    q = typed.format(a=number[:4], b=number[4:8], c=number[8:])
    assert member.public_id in text(client.get(SEARCH, {"q": q}))


def test_a_mistyped_card_number_gets_a_check_digit_hint_naming_the_likely_member(client, staff):
    number = card("12345678901")
    member = CustomerFactory(member_number=number, family_name="正解")
    swapped = number[:3] + number[4] + number[3] + number[5:]
    assert luhn_check_digit(swapped[:-1]) != swapped[-1]  # a swap of two digits breaks the check digit
    body = text(client.get(SEARCH, {"q": swapped}))
    assert 'id="card-hint"' in body and "check digit" in body
    assert member.member_number in body and "正解" in body


def test_a_mistyped_card_number_hint_in_japanese(client):
    login_as(client, UserFactory(role="store_staff", language="ja"))
    body = text(client.get(SEARCH, {"q": "123456789012" if luhn_check_digit("12345678901") != "2" else "123456789013"}))
    assert "チェックデジット" in body


def test_a_valid_card_number_that_nobody_holds_gets_no_hint(client, staff):
    body = text(client.get(SEARCH, {"q": card("99999999999")}))
    assert 'id="card-hint"' not in body


# --- merged records lead to the survivor -----------------------------------------------------------
@pytest.fixture
def merged():
    survivor = CustomerFactory(family_name="中村", phone="+819011110000", email="now@example.jp")
    old = CustomerFactory(
        family_name="中村", phone="+818022220000", email="old@example.jp", member_number=card("40000000001")
    )
    merge_customers(winner=survivor, loser=old, reason="same person")
    return survivor, old


@pytest.mark.parametrize("q", ["080-2222-0000", "08022220000", "OLD@example.jp", "{card}"])
def test_a_merged_records_phone_email_and_card_find_the_survivor_in_staff_search(client, staff, merged, q):
    survivor, old = merged
    response = client.get(SEARCH, {"q": q.format(card=old.member_number)})
    assert results(response) == 1 and survivor.public_id in text(response)
    assert "Found by a merged record" in text(response)


@pytest.mark.parametrize(
    "params",
    [{"q": "080-2222-0000"}, {"phone": "080-2222-0000"}, {"email": "old@example.jp"}, {"q": "old@example.jp"},
     {"member_number": "{card}"}, {"q": "{card}"}],
)  # fmt: skip
def test_a_merged_records_phone_email_and_card_find_the_survivor_in_the_api(api, merged, params):
    survivor, old = merged
    params = {k: v.format(card=old.member_number) for k, v in params.items()}
    response = api("customers:read").get("/api/v1/customers/", params)
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [survivor.public_id]


# --- merges never blank what the survivor had -----------------------------------------------------------
def test_taking_the_duplicates_address_keeps_the_survivors_prefecture_when_the_duplicate_has_none():
    winner = CustomerFactory(postal_code="150-0001", prefecture="東京都", address="渋谷区神宮前1-1")
    loser = CustomerFactory(postal_code="150-0002", prefecture="", address="渋谷区渋谷2-2")
    merge = merge_customers(winner=winner, loser=loser, reason="same", keep={"address": "loser"})
    winner.refresh_from_db()
    assert (winner.postal_code, winner.prefecture, winner.address) == ("150-0002", "東京都", "渋谷区渋谷2-2")
    address = {k: v for k, v in merge.replaced.items() if k in ("postal_code", "prefecture", "address")}
    assert address == {"postal_code": "150-0001", "address": "渋谷区神宮前1-1"}


def test_staff_may_explicitly_take_the_duplicates_empty_values_and_the_log_keeps_them():
    winner = CustomerFactory(
        postal_code="150-0001", prefecture="東京都", address="渋谷区神宮前1-1", home_store=StoreFactory(code="S1")
    )
    loser = CustomerFactory(postal_code="", prefecture="", address="", home_store=None)
    merge = merge_customers(winner=winner, loser=loser, reason="same",
                            keep={"address": "loser_with_blanks", "home_store": "loser_with_blanks"})  # fmt: skip
    winner.refresh_from_db()
    assert (winner.postal_code, winner.prefecture, winner.address, winner.home_store) == ("", "", "", None)
    assert merge.replaced | {"email_opt_in_at": None} == {
        "postal_code": "150-0001", "prefecture": "東京都", "address": "渋谷区神宮前1-1", "home_store": "S1",
        "email_opt_in_at": None,
    }  # fmt: skip


def test_the_merge_page_offers_blanking_only_where_it_would_happen_and_the_history_shows_replaced_values(client, staff):
    winner = CustomerFactory(postal_code="150-0001", prefecture="東京都", email="w@example.jp", birth_date=None)
    loser = CustomerFactory(postal_code="150-0002", prefecture="", email="l@example.jp")
    url = reverse("crm:merge") + f"?winner={winner.public_id}&loser={loser.public_id}"
    page = text(client.get(url))
    assert 'name="keep_address" value="loser_with_blanks"' in page
    assert 'name="keep_email" value="loser_with_blanks"' not in page
    response = client.post(url, {"winner": winner.public_id, "loser": loser.public_id, "reason": "same",
                                 "keep_address": "loser", "keep_email": "loser"})  # fmt: skip
    assert response.status_code == 302
    winner.refresh_from_db()
    assert winner.prefecture == "東京都" and winner.email == "l@example.jp"
    history = text(client.get(reverse("crm:customer_detail", args=[winner.public_id])))
    assert "Values replaced" in history and "150-0001" in history and "w@example.jp" in history


@pytest.mark.parametrize("keep", [{"address": "both"}, {"nope": "loser"}, {"address": ""}])
def test_a_bad_merge_choice_is_refused_and_nothing_is_merged(keep):
    winner, loser = CustomerFactory(), CustomerFactory()
    with pytest.raises(Exception) as err:
        merge_customers(winner=winner, loser=loser, reason="same", keep=keep)
    assert "keep" in err.value.message_dict
    loser.refresh_from_db()
    assert loser.merged_into is None and CustomerMerge.objects.count() == 0


def test_a_bad_merge_choice_on_the_page_is_a_400_naming_the_field(client, staff):
    winner, loser = CustomerFactory(), CustomerFactory()
    url = reverse("crm:merge")
    response = client.post(url, {"winner": winner.public_id, "loser": loser.public_id, "reason": "same",
                                 "keep_address": "loser_with_blanks"})  # fmt: skip
    assert response.status_code == 400
    loser.refresh_from_db()
    assert loser.merged_into is None
