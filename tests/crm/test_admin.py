import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import (
    ApiKey,
    ChannelIdentity,
    ConsentSource,
    Customer,
    CustomerMerge,
    IdempotencyRecord,
    Order,
    OrderReturn,
    Product,
    Store,
    User,
)
from crm.services import create_api_key, merge_customers, record_order, record_return
from crm.services.api_keys import hash_api_key

from .factories import CustomerFactory, IdentityFactory, ProductFactory, StoreFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(django_user_model):
    """pytest-django's admin, reading the admin in English (staff pages speak the user's language)."""
    return django_user_model.objects.create_superuser("admin@example.com", "password", language="en")


@pytest.fixture
def objects(admin_user):
    """One row of every crm model, written the way production writes them."""
    store = StoreFactory(code="SHIBUYA")
    product = ProductFactory(sku="COAT-1")
    customer = CustomerFactory(member_number="100000000001", home_store=store)
    identity = IdentityFactory(customer=customer)
    other = CustomerFactory(member_number="100000000002")
    merge = merge_customers(winner=customer, loser=other, reason="same person", actor=admin_user)
    order, _ = record_order(
        source="pos", external_ref="R-1", channel="store", store=store, ordered_at=timezone.now(),
        lines=[{"product": product, "quantity": 2, "unit_price": 12000}], customer=customer,
    )  # fmt: skip
    order_return = record_return(order=order, lines=[{"sku": "COAT-1", "quantity": 1}], reason="size")
    api_key, _raw = create_api_key(name="EC site", scopes=["catalog:read"])
    record = IdempotencyRecord.objects.create(
        owner=f"key:{api_key.pk}", key="k-1", method="POST", path="/api/v1/orders/", request_hash="x" * 64,
        created_at=timezone.now(),
    )  # fmt: skip
    return {
        Store: store, Product: product, Customer: customer, ChannelIdentity: identity, CustomerMerge: merge,
        Order: order, OrderReturn: order_return, ApiKey: api_key, IdempotencyRecord: record, User: admin_user,
    }  # fmt: skip


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize(
    "model",
    [Store, Product, Customer, ChannelIdentity, CustomerMerge, Order, OrderReturn, ApiKey, IdempotencyRecord, User],
)
def test_every_crm_model_has_a_changelist_and_a_change_page(admin_client, objects, model):
    obj = objects[model]

    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", [Store, Product, Customer, ApiKey])
def test_add_pages_render(admin_client, model):
    assert admin_client.get(admin_url(model, "add")).status_code == 200


@pytest.mark.parametrize("model", [ChannelIdentity, CustomerMerge, Order, OrderReturn, IdempotencyRecord])
def test_rows_written_only_by_services_cannot_be_added_or_changed_in_the_admin(admin_client, objects, model):
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    page = admin_client.get(admin_url(model, "change", objects[model].pk)).content.decode()
    assert 'name="_save"' not in page


def test_order_page_shows_its_lines(admin_client, objects):
    page = admin_client.get(admin_url(Order, "change", objects[Order].pk)).content.decode()

    assert "COAT-1" in page
    assert objects[OrderReturn].public_id in page


def test_changelist_searches_and_filters_render(admin_client, objects):
    for model, term in [(Product, "COAT"), (Store, "SHIBUYA"), (Order, objects[Order].public_id), (User, "admin")]:
        assert admin_client.get(admin_url(model, "changelist"), {"q": term}).status_code == 200
    response = admin_client.get(admin_url(Product, "changelist"), {"category": "outerwear", "active__exact": "1"})
    assert response.status_code == 200


# --- Customers ---------------------------------------------------------------------------------


def found(admin_client, term: str) -> set[str]:
    response = admin_client.get(admin_url(Customer, "changelist"), {"q": term})
    assert response.status_code == 200
    return {c.member_number for c in response.context["cl"].result_list}


def test_customer_search_understands_kana_phone_member_number_and_names(admin_client):
    CustomerFactory(
        member_number="200000000001", family_name="佐藤", given_name="太郎", family_name_kana="サトウ",
        given_name_kana="タロウ", phone="+819012345678", email="taro@example.jp",
    )  # fmt: skip
    CustomerFactory(member_number="200000000002", family_name="鈴木", family_name_kana="スズキ", phone="+819087654321")

    assert found(admin_client, "さとう") == {"200000000001"}
    assert found(admin_client, "ｻﾄｳ ﾀﾛｳ") == {"200000000001"}
    assert found(admin_client, "090-1234-5678") == {"200000000001"}
    assert found(admin_client, "200000000002") == {"200000000002"}
    assert found(admin_client, "佐藤 太郎") == {"200000000001"}
    assert found(admin_client, "taro@example.jp") == {"200000000001"}
    assert found(admin_client, "山田") == set()


def test_customer_changelist_marks_merged_customers_and_filters_them(admin_client, objects):
    page = admin_client.get(admin_url(Customer, "changelist")).content.decode()

    assert "merged-badge" in page
    assert "→ 100000000001" in page
    active = admin_client.get(admin_url(Customer, "changelist"), {"merged": "no"}).context["cl"].result_list
    assert [c.member_number for c in active] == ["100000000001"]


def customer_form(**overrides) -> dict:
    data = {
        "member_number": "300000000001", "family_name": "山田", "given_name": "花子", "family_name_kana": "やまだ",
        "given_name_kana": "ﾊﾅｺ", "email": " Hanako@Example.JP ", "phone": "090-1234-5678", "birth_date": "1990-04-01",
        "postal_code": "1500001", "prefecture": "東京都", "address": "", "home_store": "", "email_opt_in": "on",
        "identities-TOTAL_FORMS": "0", "identities-INITIAL_FORMS": "0",
    }  # fmt: skip
    return data | overrides


def test_adding_a_customer_normalises_like_the_service(admin_client):
    response = admin_client.post(admin_url(Customer, "add"), customer_form())

    assert response.status_code == 302, response.context["adminform"].form.errors
    customer = Customer.objects.get()
    assert customer.phone == "+819012345678"
    assert (customer.family_name_kana, customer.given_name_kana) == ("ヤマダ", "ハナコ")
    assert customer.email == "hanako@example.jp"
    assert customer.postal_code == "150-0001"
    assert customer.search_kana == "ヤマダハナコ"
    assert customer.email_opt_in_source == ConsentSource.STAFF


def test_adding_a_customer_with_a_bad_phone_shows_the_error_and_writes_nothing(admin_client):
    response = admin_client.post(admin_url(Customer, "add"), customer_form(phone="123"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"] == ["Enter a valid phone number."]
    assert not Customer.objects.exists()


def test_changing_a_customer_goes_through_the_service_and_stamps_consent(admin_client):
    customer = CustomerFactory(member_number="300000000002", sms_opt_in=False)
    data = customer_form(
        member_number="300000000002", phone="03-1234-5678", sms_opt_in="on", email=customer.email,
        **{"identities-TOTAL_FORMS": "0"},
    )  # fmt: skip

    response = admin_client.post(admin_url(Customer, "change", customer.pk), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.phone == "+81312345678"
    assert customer.sms_opt_in is True
    assert customer.sms_opt_in_source == ConsentSource.STAFF
    assert customer.sms_opt_in_at is not None


def test_a_merged_customer_is_read_only(admin_client, objects):
    loser = Customer.objects.get(member_number="100000000002")

    page = admin_client.get(admin_url(Customer, "change", loser.pk)).content.decode()

    assert 'name="_save"' not in page
    assert admin_client.get(admin_url(Customer, "delete", objects[Customer].pk)).status_code == 403


def post_action(client, action, customers, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [c.pk for c in customers], **extra}
    return client.post(admin_url(Customer, "changelist"), data)


def test_merge_action_asks_for_the_survivor_and_a_reason_then_merges(admin_client, admin_user):
    first = CustomerFactory(member_number="400000000001")
    second = CustomerFactory(member_number="400000000002")
    IdentityFactory(customer=second, external_id="ec-2")

    page = post_action(admin_client, "merge_selected", [first, second])
    assert page.status_code == 200
    assert "400000000001" in page.content.decode() and "400000000002" in page.content.decode()
    assert not CustomerMerge.objects.exists()

    done = post_action(admin_client, "merge_selected", [first, second], apply="1", winner=second.pk, reason="同一人物")

    assert done.status_code == 302
    merge = CustomerMerge.objects.get()
    assert (merge.winner, merge.loser, merge.actor, merge.reason) == (second, first, admin_user, "同一人物")
    first.refresh_from_db()
    assert first.merged_into == second


def test_merge_action_without_a_reason_shows_the_form_again(admin_client):
    first, second = CustomerFactory(), CustomerFactory()

    page = post_action(admin_client, "merge_selected", [first, second], apply="1", winner=first.pk, reason="")

    assert page.status_code == 200
    assert page.context["form"].errors["reason"]
    assert not CustomerMerge.objects.exists()


@pytest.mark.parametrize("count", [1, 3])
def test_merge_action_needs_exactly_two_customers(admin_client, count):
    customers = [CustomerFactory() for _ in range(count)]

    response = post_action(admin_client, "merge_selected", customers, apply="1", winner=customers[0].pk, reason="x")

    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Select exactly two customers to merge."]
    assert not CustomerMerge.objects.exists()
    assert not Customer.objects.filter(merged_into__isnull=False).exists()


def test_merging_an_already_merged_customer_is_refused(admin_client, objects):
    loser = Customer.objects.get(member_number="100000000002")
    third = CustomerFactory()

    response = post_action(admin_client, "merge_selected", [loser, third], apply="1", winner=third.pk, reason="x")

    assert response.status_code == 302
    assert CustomerMerge.objects.count() == 1


def test_export_action_streams_csv_of_selected_active_customers(admin_client, objects):
    third = CustomerFactory(member_number="500000000001")
    loser = Customer.objects.get(member_number="100000000002")

    response = post_action(admin_client, "export_csv", [objects[Customer], third, loser])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeffmember_number,")
    assert [line.split(",")[0] for line in body.splitlines()[1:]] == ["100000000001", "500000000001"]


@pytest.fixture
def staff_marketer():
    """A marketer who was also given access to the admin site: may export, may not import or merge."""
    user = UserFactory(role="marketer")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def test_export_and_import_need_their_permissions(client, staff_marketer):
    client.force_login(staff_marketer)
    customer = CustomerFactory()

    changelist = client.get(admin_url(Customer, "changelist"))
    actions = dict(changelist.context["action_form"].fields["action"].choices)
    assert "export_csv" in actions
    assert "merge_selected" not in actions
    assert "Import customers from CSV" not in changelist.content.decode()
    assert client.get(admin_url(Customer, "import")).status_code == 403
    upload = SimpleUploadedFile("c.csv", b"member_number,family_name\n600000000001,X\n")
    assert client.post(admin_url(Customer, "import"), {"file": upload, "encoding": "utf-8-sig"}).status_code == 403
    assert Customer.objects.count() == 1

    staff_marketer.groups.clear()
    staff_marketer.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(User.objects.get(pk=staff_marketer.pk))
    response = post_action(client, "export_csv", [customer])
    assert response.status_code == 200
    assert not response.streaming  # the changelist again, without the action


def test_store_staff_cannot_reach_the_admin(client):
    client.force_login(UserFactory(role="store_staff"))

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.get(admin_url(Customer, "changelist")).status_code == 302


# --- Import page ---------------------------------------------------------------------------------


def upload(text: str, encoding="utf-8", name="customers.csv"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def test_import_page_is_linked_from_the_changelist(admin_client):
    page = admin_client.get(admin_url(Customer, "changelist")).content.decode()

    assert admin_url(Customer, "import") in page
    assert admin_client.get(admin_url(Customer, "import")).status_code == 200


def test_import_page_imports_and_lists_bad_rows(admin_client):
    StoreFactory(code="SHIBUYA")
    text = "member_number,family_name,phone,home_store\n700000000001,森,,SHIBUYA\n700000000002,林,123,\n"

    response = admin_client.post(admin_url(Customer, "import"), {"file": upload(text), "encoding": "utf-8-sig"})

    assert response.status_code == 200
    result = response.context["result"]
    assert (result.created, result.failed) == (1, 1)
    assert "line 3: phone: Enter a valid phone number." in response.content.decode()
    assert list(Customer.objects.values_list("member_number", flat=True)) == ["700000000001"]


def test_import_page_reads_shift_jis_and_can_check_without_writing(admin_client):
    text = "member_number,family_name,family_name_kana\r\n700000000003,髙橋,ﾀｶﾊｼ\r\n"

    checked = admin_client.post(
        admin_url(Customer, "import"), {"file": upload(text, "cp932"), "encoding": "cp932", "dry_run": "on"}
    )
    assert checked.context["result"].created == 1
    assert not Customer.objects.exists()

    admin_client.post(admin_url(Customer, "import"), {"file": upload(text, "cp932"), "encoding": "cp932"})
    assert Customer.objects.get().family_name_kana == "タカハシ"


def test_import_page_says_when_the_encoding_is_wrong(admin_client):
    text = "member_number,family_name\r\n700000000004,高橋\r\n"

    response = admin_client.post(
        admin_url(Customer, "import"), {"file": upload(text, "cp932"), "encoding": "utf-8-sig"}
    )

    assert response.context["form"].errors["encoding"]
    assert not Customer.objects.exists()


def test_import_page_refuses_unknown_columns(admin_client):
    response = admin_client.post(
        admin_url(Customer, "import"), {"file": upload("member_number,hobby\n1,x\n"), "encoding": "utf-8-sig"}
    )

    assert "hobby" in response.context["file_error"]
    assert not Customer.objects.exists()


# --- Products --------------------------------------------------------------------------------------


def test_product_add_and_change_go_through_upsert(admin_client):
    data = {"sku": "BAG-1", "name": " トート ", "category": "bags", "brand": "Tsunagu", "price": "5000", "active": "on"}
    assert admin_client.post(admin_url(Product, "add"), data).status_code == 302
    product = Product.objects.get(sku="BAG-1")
    assert product.name == "トート"

    response = admin_client.post(admin_url(Product, "change", product.pk), data | {"sku": "OTHER", "price": "4500"})

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.sku, product.price) == ("BAG-1", 4500)


# --- API keys ---------------------------------------------------------------------------------------


def test_api_key_is_created_with_checkbox_scopes_and_shown_once(admin_client, admin_user):
    response = admin_client.post(
        admin_url(ApiKey, "add"), {"name": "POS", "scopes": ["catalog:read", "orders:write"]}, follow=True
    )

    page = response.content.decode()
    raw_key = re.search(r"tsu_[0-9a-f]{8}_[A-Za-z0-9_\-]+", page).group(0)
    api_key = ApiKey.objects.get()
    assert (api_key.name, api_key.scopes, api_key.created_by) == ("POS", ["catalog:read", "orders:write"], admin_user)
    assert api_key.key_hash == hash_api_key(raw_key)
    assert raw_key not in str(ApiKey.objects.values().get())
    again = admin_client.get(admin_url(ApiKey, "changelist")).content.decode()
    detail = admin_client.get(admin_url(ApiKey, "change", api_key.pk)).content.decode()
    assert raw_key not in again and raw_key not in detail
    assert api_key.key_hash not in detail


def test_api_key_rate_is_the_one_thing_of_a_key_an_admin_may_change(admin_client, clock):
    api_key, raw_key = create_api_key(name="EC site", scopes=["catalog:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert client.get("/api/v1/stores/").status_code == 200

    response = admin_client.post(
        admin_url(ApiKey, "change", api_key.pk),
        {"rate_limit": "1", "name": "renamed", "scopes": ["orders:write"]},
    )

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert (api_key.rate_limit, api_key.name, api_key.scopes) == (1, "EC site", ["catalog:read"])
    # applies from the next request: this minute's requests already used the one allowed
    assert client.get("/api/v1/stores/").status_code == 429


def test_api_key_rate_below_one_is_refused_in_the_admin(admin_client):
    api_key, _raw = create_api_key(name="EC site", scopes=["catalog:read"])
    response = admin_client.post(admin_url(ApiKey, "change", api_key.pk), {"rate_limit": "0"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["rate_limit"]
    assert ApiKey.objects.get(pk=api_key.pk).rate_limit is None


def test_api_key_form_refuses_missing_scopes_and_writes_nothing(admin_client):
    response = admin_client.post(admin_url(ApiKey, "add"), {"name": "POS", "scopes": ["nope"]})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["scopes"]
    assert not ApiKey.objects.exists()


def test_revoke_action_revokes_keys(admin_client):
    api_key, raw_key = create_api_key(name="old", scopes=["catalog:read"])

    response = admin_client.post(
        admin_url(ApiKey, "changelist"), {"action": "revoke", ACTION_CHECKBOX_NAME: [api_key.pk]}
    )

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert admin_client.get("/api/v1/stores/", HTTP_AUTHORIZATION=f"Api-Key {raw_key}").status_code == 401


# --- Staff ------------------------------------------------------------------------------------------


def test_adding_staff_is_an_invitation(admin_client):
    assert admin_client.get(admin_url(User, "add"))["Location"] == admin_url(User, "invite")
    assert "Invite staff" in admin_client.get(admin_url(User, "changelist")).content.decode()


def test_invite_staff_creates_the_account_in_its_role_and_mails_a_link(
    admin_client, mailoutbox, django_capture_on_commit_callbacks
):
    store = StoreFactory()
    data = {"email": "New@Tsunagu.Example", "display_name": "新人", "role": "store_staff", "store": store.pk}

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(admin_url(User, "invite"), data)

    user = User.objects.get(email="new@tsunagu.example")
    assert response["Location"] == admin_url(User, "change", user.pk)
    assert list(user.groups.values_list("name", flat=True)) == ["store_staff"]
    assert (user.store, user.is_staff, user.has_usable_password()) == (store, False, False)
    assert [m.to for m in mailoutbox] == [["new@tsunagu.example"]]


def test_inviting_an_existing_email_shows_the_error(admin_client, admin_user):
    response = admin_client.post(admin_url(User, "invite"), {"email": admin_user.email, "role": "agent"})

    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert User.objects.count() == 1


def test_send_invitation_action_mails_a_set_password_link(admin_client, mailoutbox):
    staff = UserFactory(role="agent")

    response = admin_client.post(
        admin_url(User, "changelist"), {"action": "send_invitation", ACTION_CHECKBOX_NAME: [staff.pk]}
    )

    assert response.status_code == 302
    assert [m.to for m in mailoutbox] == [[staff.email]]
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


def test_staff_changelist_shows_role_store_and_language(admin_client):
    UserFactory(role="marketer", display_name="マーケ", store=StoreFactory(name="梅田店"), language="ja")

    page = admin_client.get(admin_url(User, "changelist")).content.decode()

    assert "marketer" in page and "梅田店" in page
    marketers = admin_client.get(
        admin_url(User, "changelist"), {"groups__id__exact": Group.objects.get(name="marketer").pk}
    )
    assert len(marketers.context["cl"].result_list) == 1


def test_staff_change_form_saves(admin_client):
    staff = UserFactory(role="agent", language="en")
    data = {
        "email": staff.email, "display_name": "Agent A", "language": "ja", "store": "", "is_active": "on",
        "groups": [Group.objects.get(name="agent").pk], "last_login_0": "", "last_login_1": "",
        "date_joined_0": "2025-01-01", "date_joined_1": "00:00:00",
    }  # fmt: skip

    response = admin_client.post(admin_url(User, "change", staff.pk), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    staff.refresh_from_db()
    assert (staff.display_name, staff.language) == ("Agent A", "ja")


def test_an_admin_role_member_manages_staff_but_cannot_make_superusers(client):
    manager = UserFactory(role="admin")
    staff = UserFactory(role="agent")
    client.force_login(manager)
    data = {
        "email": staff.email, "display_name": "Agent", "language": "en", "is_active": "on", "is_superuser": "on",
        "is_staff": "on", "groups": [Group.objects.get(name="admin").pk], "date_joined_0": "2025-01-01",
        "date_joined_1": "00:00:00",
    }  # fmt: skip

    response = client.post(admin_url(User, "change", staff.pk), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    staff.refresh_from_db()
    assert staff.groups.get().name == "admin"
    assert staff.is_superuser is False
