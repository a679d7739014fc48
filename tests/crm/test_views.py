import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from crm import views
from crm.models import ChannelIdentity, CustomerMerge, Order, SalesChannel
from crm.services import invite_staff, merge_customers, record_order
from tests.crm.factories import CustomerFactory, IdentityFactory, ProductFactory, StoreFactory, UserFactory, stock
from tests.mfa import login_as

pytestmark = pytest.mark.django_db

SEARCH = reverse("crm:customer_search")


def detail_url(customer):
    return reverse("crm:customer_detail", args=[customer.public_id])


def merge_url(winner, loser):
    return f"{reverse('crm:merge')}?winner={winner.public_id}&loser={loser.public_id}"


def text(response) -> str:
    return response.content.decode()


def checked_choice(body: str, name: str) -> str:
    """The value of the radio button the page shows selected."""
    radios = re.findall(rf'<input type="radio" name="{name}" value="(\w+)"[^>]*>', body)
    checked = re.findall(rf'<input type="radio" name="{name}" value="(\w+)"[^>]* checked>', body)
    assert len(radios) == 2 and len(checked) == 1
    return checked[0]


@pytest.fixture
def staff(client):
    user = UserFactory(role="store_staff")
    login_as(client, user)
    return user


def sell(customer, *, channel=SalesChannel.STORE, store=None, ref="R1", quantity=1, price=12000, redeem=0):
    store, product = store or StoreFactory(), ProductFactory()
    if channel != SalesChannel.STORE:
        stock(product, store, quantity)  # online orders need stock where they ship from
    order, _ = record_order(
        source="pos" if channel == SalesChannel.STORE else "ec",
        external_ref=ref,
        channel=channel,
        store=store,
        ordered_at=timezone.now() - dt.timedelta(days=1),
        lines=[{"product": product, "quantity": quantity, "unit_price": price}],
        customer=customer,
        redeem_points=redeem,
    )
    return order


# --- Access -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        reverse("crm:home"),
        SEARCH,
        reverse("crm:customer_detail", args=["cus_X"]),
        reverse("crm:duplicates"),
        reverse("crm:merge"),
    ],
)
def test_anonymous_visitor_is_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")


def test_htmx_search_after_the_session_ended_loads_the_login_page(client):
    response = client.get(SEARCH, {"q": "tanaka"}, headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{reverse('account_login')}?next=/customers/%3Fq%3Dtanaka"


def test_home_sends_staff_to_customer_search(client, staff):
    response = client.get(reverse("crm:home"))
    assert response.status_code == 302
    assert response["Location"] == SEARCH


@pytest.mark.parametrize("url_name", ["crm:duplicates", "crm:merge"])
def test_marketer_cannot_merge_customers(client, url_name):
    login_as(client, UserFactory(role="marketer"))
    response = client.get(reverse(url_name))
    assert response.status_code == 403
    assert "Not allowed" in text(response)


def test_marketer_does_not_see_the_duplicates_menu_but_can_search(client):
    login_as(client, UserFactory(role="marketer"))
    response = client.get(SEARCH)
    assert response.status_code == 200
    assert reverse("crm:duplicates") not in text(response)


def test_staff_without_a_role_cannot_open_customer_pages(client):
    login_as(client, UserFactory())
    customer = CustomerFactory()
    assert client.get(SEARCH).status_code == 403
    assert client.get(detail_url(customer)).status_code == 403


def test_marketer_merge_post_is_refused_and_merges_nothing(client):
    login_as(client, UserFactory(role="marketer"))
    a, b = CustomerFactory(), CustomerFactory()
    response = client.post(reverse("crm:merge"), {"winner": a.public_id, "loser": b.public_id, "reason": "same"})
    assert response.status_code == 403
    assert not CustomerMerge.objects.exists()


# --- Search -------------------------------------------------------------------------------------


def test_search_by_phone_typed_with_hyphens_finds_the_e164_number(client, staff):
    customer = CustomerFactory(phone="+819012345678", family_name="佐藤", given_name="一郎")
    CustomerFactory(phone="+819011112222")
    response = client.get(SEARCH, {"q": "090-1234-5678"})
    body = text(response)
    assert response.status_code == 200
    assert "佐藤 一郎" in body
    assert "090-1234-5678" in body  # shown nationally, not as +81...
    assert detail_url(customer) in body
    assert body.count('class="result"') == 1


@pytest.mark.parametrize("typed", ["ﾀﾅｶ", "たなか", "タナカ"])
def test_search_by_kana_in_any_form_finds_the_katakana_name(client, staff, typed):
    tanaka = CustomerFactory(family_name="田中", family_name_kana="タナカ")
    CustomerFactory(family_name="鈴木", family_name_kana="スズキ", given_name_kana="イチロウ")
    body = text(client.get(SEARCH, {"q": typed}))
    assert tanaka.member_number in body
    assert "スズキ" not in body


def test_search_by_member_number(client, staff):
    customer = CustomerFactory(member_number="100000000017", family_name="山本")
    CustomerFactory(member_number="200000000015", family_name="高橋")
    body = text(client.get(SEARCH, {"q": "100000000017"}))
    assert customer.member_number in body
    assert "山本" in body
    assert "高橋" not in body


def test_search_by_email_ignores_case(client, staff):
    CustomerFactory(email="hanako.tanaka@example.jp", family_name="田中")
    CustomerFactory(email="someone@example.jp", family_name="伊藤")
    body = text(client.get(SEARCH, {"q": "Hanako.Tanaka@Example.jp"}))
    assert "hanako.tanaka@example.jp" in body
    assert "伊藤" not in body


def test_search_shows_kana_and_home_store(client, staff):
    store = StoreFactory(name="新宿店")
    CustomerFactory(family_name_kana="タナカ", given_name_kana="ハナコ", home_store=store)
    body = text(client.get(SEARCH, {"q": "タナカ"}))
    assert "タナカ ハナコ" in body
    assert "新宿店" in body


def test_search_without_match_says_so(client, staff):
    CustomerFactory()
    body = text(client.get(SEARCH, {"q": "ZZZ-nobody"}))
    assert "No customer matches" in body
    assert 'class="result"' not in body


def test_search_page_without_query_shows_the_box_and_a_hint(client, staff):
    body = text(client.get(SEARCH))
    assert 'name="q"' in body
    assert "any format" in body


def test_search_lists_at_most_twenty_and_says_there_are_more(client, staff):
    CustomerFactory.create_batch(23, family_name_kana="タナカ")
    body = text(client.get(SEARCH, {"q": "タナカ"}))
    assert body.count('class="result"') == 20
    assert "23 customers found" in body and "page 1 of 2" in body
    second = text(client.get(SEARCH, {"q": "タナカ", "page": 2}))
    assert second.count('class="result"') == 3 and "23 customers found" in second


def test_htmx_request_gets_only_the_result_list(client, staff):
    customer = CustomerFactory(phone="+819012345678")
    response = client.get(SEARCH, {"q": "09012345678"}, headers={"HX-Request": "true"})
    body = text(response)
    assert customer.member_number in body
    assert "<html" not in body
    assert 'name="q"' not in body
    assert "HX-Request" in response["Vary"]


def test_plain_submit_without_javascript_gets_the_whole_page_with_results(client, staff):
    customer = CustomerFactory(phone="+819012345678")
    body = text(client.get(SEARCH, {"q": "09012345678"}))
    assert "<html" in body
    assert 'value="09012345678"' in body
    assert customer.member_number in body
    assert 'id="search-results"' in body


def test_history_restore_gets_the_whole_page(client, staff):
    response = client.get(SEARCH, {"q": "x"}, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in text(response)


def test_merged_away_customer_is_not_listed_but_its_old_card_finds_the_survivor(client, staff):
    survivor = CustomerFactory(family_name="中村", member_number="300000000013")
    old = CustomerFactory(family_name="中村", member_number="400000000011")
    merge_customers(winner=survivor, loser=old, reason="same person")
    body = text(client.get(SEARCH, {"q": "400000000011"}))
    assert survivor.member_number in body
    assert "Found by a merged record" in body
    assert body.count('class="result"') == 1
    name_search = text(client.get(SEARCH, {"q": "中村"}))
    assert name_search.count('class="result"') == 1
    assert "Merged" in name_search


def test_search_page_runs_a_fixed_number_of_queries(client, staff, django_assert_max_num_queries):
    for i in range(15):
        IdentityFactory(customer=CustomerFactory(family_name_kana="タナカ", home_store=StoreFactory(code=f"Q{i}")))
    client.get(SEARCH, {"q": "タナカ"})  # per-process caches (loyalty's tiers) loaded once
    with django_assert_max_num_queries(7):  # 5 + the total + one per summary provider (loyalty's points and tier)
        response = client.get(SEARCH, {"q": "タナカ"})
    assert text(response).count('class="result"') == 15


# --- Customer 360 -------------------------------------------------------------------------------


def test_customer_page_shows_every_panel(client, staff):
    store = StoreFactory(name="渋谷店")
    customer = CustomerFactory(family_name="田中", given_name="花子", phone="+819012345678", home_store=store)
    IdentityFactory(customer=customer, channel="line", external_id="U-line-42")
    sell(customer, store=store, ref="POS-0", price=30000)  # earns the 300 points redeemed below
    sell(customer, store=store, ref="POS-1", price=5000)
    sell(customer, channel=SalesChannel.EC, store=StoreFactory(code="EC1", name="公式EC"), ref="EC-1", redeem=300)
    response = client.get(detail_url(customer))
    body = text(response)
    assert response.status_code == 200
    for title in ("Profile", "Channel accounts", "Orders", "Merge history", "Timeline"):
        assert title in body
    assert "田中 花子" in body
    assert "090-1234-5678" in body
    assert "U-line-42" in body
    assert 'class="badge sale-store"' in body
    assert 'class="badge sale-online">EC<' in body
    assert "¥5,000" in body
    assert "−300" in body  # points redeemed on the EC order
    assert "¥11,700" in body
    assert "公式EC" in body


def test_customer_page_shows_consent_with_time_and_source(client, staff):
    customer = CustomerFactory(email_opt_in=True, email_opt_in_source="store", sms_opt_in=False)
    body = text(client.get(detail_url(customer)))
    assert "Opted in" in body
    assert "via Store" in body
    assert "Not opted in" in body


def test_customer_page_suggests_duplicates_with_a_merge_link(client, staff):
    customer = CustomerFactory(email="same@example.jp")
    twin = CustomerFactory(email="same@example.jp", family_name="田中", given_name="ハナ")
    body = text(client.get(detail_url(customer)))
    assert "Possible duplicates" in body
    assert "田中 ハナ" in body
    assert merge_url(customer, twin).replace("&", "&amp;") in body


def test_merged_id_redirects_to_the_survivor_with_a_message(client, staff):
    survivor, old = CustomerFactory(), CustomerFactory()
    merge_customers(winner=survivor, loser=old, reason="same person")
    response = client.get(detail_url(old))
    assert response.status_code == 302
    assert response["Location"] == detail_url(survivor)
    body = text(client.get(response["Location"]))
    assert f"Customer {old.public_id} was merged into this customer" in body


def test_unknown_customer_id_shows_the_not_found_page(client, staff):
    response = client.get(reverse("crm:customer_detail", args=["cus_NOPE"]))
    assert response.status_code == 404
    assert "Page not found" in text(response)


def test_panels_follow_the_staff_members_permissions(client):
    from django.contrib.auth.models import Permission

    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    login_as(client, user)
    customer = CustomerFactory()
    sell(customer, ref="HIDDEN-1")
    body = text(client.get(detail_url(customer)))
    assert "Profile" in body
    assert 'id="panel-orders"' not in body


@pytest.fixture
def crm_panels_only(monkeypatch):
    """Pin crm's own share of the 360 page; each app pins the queries of the panels it adds."""
    from crm import registry

    panels = {k: p for k, p in registry._panels.items() if p.template.startswith("crm/")}
    sources = {k: s for k, s in registry._timeline_sources.items() if k.startswith("crm.")}
    monkeypatch.setattr(registry, "_panels", panels)
    monkeypatch.setattr(registry, "_timeline_sources", sources)


def test_customer_page_runs_a_fixed_number_of_queries(client, staff, django_assert_max_num_queries, crm_panels_only):
    customer = CustomerFactory(email="dup@example.jp")
    CustomerFactory(email="dup@example.jp")
    for i in range(5):
        IdentityFactory(customer=customer)
        sell(customer, ref=f"Q-{i}")
    merge_customers(winner=customer, loser=CustomerFactory(), reason="same person", actor=staff)
    with django_assert_max_num_queries(12):
        response = client.get(detail_url(customer))
    assert text(response).count('class="order-row"') == 5


# --- Duplicates and merge -----------------------------------------------------------------------


def test_duplicates_page_groups_customers_sharing_email_or_phone(client, staff):
    first = CustomerFactory(email="twin@example.jp", phone="+819011111111")
    second = CustomerFactory(email="twin@example.jp")
    third = CustomerFactory(phone="+819011111111")
    CustomerFactory()
    body = text(client.get(reverse("crm:duplicates")))
    assert "Same email: twin@example.jp" in body
    assert "Same phone: 090-1111-1111" in body
    assert merge_url(first, second).replace("&", "&amp;") in body
    assert merge_url(first, third).replace("&", "&amp;") in body


def test_duplicates_page_without_duplicates(client, staff):
    CustomerFactory()
    assert "No customers share" in text(client.get(reverse("crm:duplicates")))


def test_merge_page_shows_both_records_side_by_side(client, staff):
    winner = CustomerFactory(family_name="田中", email="", phone="+819012345678")
    loser = CustomerFactory(family_name="田中", email="hanako@example.jp", phone="+819012345678")
    IdentityFactory(customer=loser, channel="app", external_id="app-7")
    response = client.get(merge_url(winner, loser))
    body = text(response)
    assert response.status_code == 200
    assert winner.member_number in body and loser.member_number in body
    assert "hanako@example.jp" in body
    assert "app-7" in body
    # The survivor has no email, so the default keeps the merged record's.
    assert checked_choice(body, "keep_email") == "loser"
    assert checked_choice(body, "keep_name") == "winner"
    swap = f"{reverse('crm:merge')}?winner={loser.public_id}&amp;loser={winner.public_id}"
    assert swap in body


def test_merge_moves_identities_and_orders_and_shows_the_record(client, staff):
    winner = CustomerFactory(family_name="田中", email="old@example.jp")
    loser = CustomerFactory(family_name="田中", email="new@example.jp")
    IdentityFactory(customer=loser, channel="ec", external_id="ec-99")
    sell(loser, channel=SalesChannel.EC, ref="EC-77")
    keep = {"keep_name": "winner", "keep_kana": "winner", "keep_email": "loser", "keep_phone": "winner"}
    keep |= {f"keep_{g}": "winner" for g in ("birth_date", "address", "home_store", "email_consent", "sms_consent")}
    response = client.post(
        reverse("crm:merge"),
        {"winner": winner.public_id, "loser": loser.public_id, "reason": "Same person, confirmed by phone", **keep},
    )
    assert response.status_code == 302
    assert response["Location"] == detail_url(winner)
    loser.refresh_from_db()
    winner.refresh_from_db()
    assert loser.merged_into == winner
    assert winner.email == "new@example.jp"
    assert ChannelIdentity.objects.get(external_id="ec-99").customer == winner
    assert Order.objects.get(external_ref="EC-77").customer == winner
    merge = CustomerMerge.objects.get()
    assert merge.actor == staff

    body = text(client.get(response["Location"]))
    assert f"Merged {loser.member_number} into {winner.member_number}" in body
    assert "Same person, confirmed by phone" in body
    assert "Channel accounts: 1" in body and "Orders: 1" in body
    assert "Taken from the merged record: Email" in body
    assert "ec-99" in body
    assert staff.display_name in body


def test_merge_without_a_reason_shows_the_error_and_merges_nothing(client, staff):
    winner, loser = CustomerFactory(), CustomerFactory()
    IdentityFactory(customer=loser)
    response = client.post(reverse("crm:merge"), {"winner": winner.public_id, "loser": loser.public_id, "reason": " "})
    assert response.status_code == 400
    assert "Say why these customers are one person." in text(response)
    loser.refresh_from_db()
    assert loser.merged_into is None
    assert not CustomerMerge.objects.exists()
    assert loser.identities.count() == 1


def test_merge_with_itself_shows_the_error_and_merges_nothing(client, staff):
    customer = CustomerFactory()
    response = client.post(
        reverse("crm:merge"), {"winner": customer.public_id, "loser": customer.public_id, "reason": "oops"}
    )
    assert response.status_code == 400
    assert "A customer cannot be merged with itself." in text(response)
    customer.refresh_from_db()
    assert customer.merged_into is None
    assert not CustomerMerge.objects.exists()


def test_merge_with_a_made_up_choice_is_refused(client, staff):
    winner, loser = CustomerFactory(), CustomerFactory()
    response = client.post(
        reverse("crm:merge"),
        {"winner": winner.public_id, "loser": loser.public_id, "reason": "same", "keep_email": "both"},
    )
    assert response.status_code == 400
    assert "Select a valid choice" in text(response)
    assert not CustomerMerge.objects.exists()


def test_merge_of_an_already_merged_customer_goes_back_to_duplicates(client, staff):
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    merge_customers(winner=a, loser=b, reason="same")
    response = client.post(reverse("crm:merge"), {"winner": c.public_id, "loser": b.public_id, "reason": "again"})
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:duplicates")
    assert "already been merged" in text(client.get(response["Location"]))
    assert CustomerMerge.objects.count() == 1


def test_merge_page_for_unknown_customers_goes_back_to_duplicates(client, staff):
    response = client.get(f"{reverse('crm:merge')}?winner=cus_A&loser=cus_B")
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:duplicates")


# --- Language, login, layout --------------------------------------------------------------------


def test_language_switch_changes_what_the_page_says(client):
    user = UserFactory(role="store_staff", language="ja")
    login_as(client, user)
    assert "顧客検索" in text(client.get(SEARCH))

    response = client.post(reverse("crm:set_language"), {"language": "en", "next": f"{SEARCH}?q=x"})
    assert response.status_code == 302
    assert response["Location"] == f"{SEARCH}?q=x"
    user.refresh_from_db()
    assert user.language == "en"
    body = text(client.get(SEARCH))
    assert "Customer search" in body
    assert "顧客検索" not in body


def test_language_switch_does_not_redirect_to_another_site(client, staff):
    response = client.post(reverse("crm:set_language"), {"language": "ja", "next": "https://evil.example/"})
    assert response["Location"] == reverse("crm:home")


def test_language_switch_refuses_an_unknown_language(client, staff):
    response = client.post(reverse("crm:set_language"), {"language": "xx", "next": SEARCH})
    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.language == "en"
    assert "Unsupported language." in text(client.get(SEARCH))


def test_language_switch_needs_post(client, staff):
    assert client.get(reverse("crm:set_language")).status_code == 405


def test_login_page_renders_in_our_layout_without_sign_up(client):
    response = client.get(reverse("account_login"))
    body = text(response)
    assert response.status_code == 200
    assert "Tsunagu" in body
    assert 'name="login"' in body and 'name="password"' in body
    assert "csrfmiddlewaretoken" in body
    assert reverse("account_reset_password") in body
    assert "sign up" not in body.lower()


def test_staff_logs_in_with_email_and_password_and_lands_on_search(client):
    UserFactory(email="ayaka@tsunagu.example", role="store_staff")
    response = client.post(
        reverse("account_login"), {"login": "ayaka@tsunagu.example", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == SEARCH


def test_wrong_password_keeps_staff_on_the_login_page(client):
    UserFactory(email="ayaka@tsunagu.example", role="store_staff")
    response = client.post(reverse("account_login"), {"login": "ayaka@tsunagu.example", "password": "nope-nope-nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_password_reset_mails_a_link(client):
    UserFactory(email="ayaka@tsunagu.example")
    page = client.get(reverse("account_reset_password"))
    assert "Tsunagu" in text(page)
    response = client.post(reverse("account_reset_password"), {"email": "ayaka@tsunagu.example"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_mfa_page_renders_in_our_layout(client, staff):
    body = text(client.get(reverse("mfa_index")))
    assert "Tsunagu" in body
    assert "Authenticator App" in body
    assert reverse("crm:customer_search") in body  # our menu


def test_layout_shows_user_menu_and_posts_logout(client, staff):
    body = text(client.get(SEARCH))
    assert staff.display_name in body
    assert reverse("mfa_index") in body
    assert f'<form method="post" action="{reverse("account_logout")}">' in body
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert client.get(SEARCH).status_code == 302


def test_invited_staff_sets_a_password_from_the_mail_and_can_log_in(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite_staff(email="new@tsunagu.example", role="agent", display_name="Kenji")
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "Kenji" in body
    link = re.search(r"https?://\S+(/accounts/password/reset/key/\S+)", body).group(1)

    form_page = client.get(link, follow=True)
    assert "Tsunagu" in text(form_page)
    assert 'name="password1"' in text(form_page)
    done = client.post(
        form_page.redirect_chain[-1][0], {"password1": "a-new-long-secret", "password2": "a-new-long-secret"}
    )
    assert done.status_code == 302
    assert client.login(email="new@tsunagu.example", password="a-new-long-secret")


def test_anonymous_visitor_can_switch_the_login_page_to_japanese(client):
    assert "Sign In" in text(client.get(reverse("account_login"), headers={"accept-language": "en"}))
    response = client.post(reverse("set_language"), {"language": "ja", "next": reverse("account_login")})
    assert response["Location"] == reverse("account_login")
    assert "ログイン" in text(client.get(reverse("account_login"), headers={"accept-language": "en"}))


def test_merge_post_without_csrf_token_is_refused_and_merges_nothing(staff):
    csrf_client = Client(enforce_csrf_checks=True)
    login_as(csrf_client, staff)
    winner, loser = CustomerFactory(), CustomerFactory()
    response = csrf_client.post(
        reverse("crm:merge"), {"winner": winner.public_id, "loser": loser.public_id, "reason": "same"}
    )
    assert response.status_code == 403
    assert not CustomerMerge.objects.exists()


# --- Error pages --------------------------------------------------------------------------------


def test_unknown_page_is_html_and_unknown_api_path_is_problem_json(client):
    rf = RequestFactory()
    page = views.page_not_found(rf.get("/nowhere/"), Exception())
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
    api = views.page_not_found(rf.get("/api/v1/nowhere/"), Exception())
    assert api.status_code == 404
    assert api["Content-Type"] == "application/problem+json"


def test_server_error_is_html_for_pages_and_problem_json_for_the_api():
    rf = RequestFactory()
    with translation.override("ja"):
        page = views.server_error(rf.get("/customers/"))
    assert page.status_code == 500
    assert "エラーが発生しました" in page.content.decode()
    with translation.override("en"):
        assert "Something went wrong" in views.server_error(rf.get("/customers/")).content.decode()
    api = views.server_error(rf.get("/api/v1/customers/"))
    assert api.status_code == 500
    assert api["Content-Type"] == "application/problem+json"


def test_unknown_page_through_the_site_uses_our_404(client, staff):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in text(response)
