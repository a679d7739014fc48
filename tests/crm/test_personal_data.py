"""A person's data rights (APPI): every app registers its part of the export and the erasure; the
export holds everything about the person; erasure anonymises the person in every app and keeps the
accounting (orders, points and stock ledgers) sound; a second erasure changes nothing."""

import datetime as dt
import io
import json
import logging

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation

from campaigns.models import CampaignRecipient, Suppression
from campaigns.services import start_campaign
from channels_hub.models import CsatResponse, Lead, Message, Ticket
from crm import registry
from crm.exceptions import NotFound
from crm.models import AccessLogEntry, ChannelIdentity, Customer, CustomerErasure, Order
from crm.privacy.services import AlreadyErased, erase_customer, export_customer, person_for
from crm.services import merge_customers
from inventory.models import Reservation
from inventory.services.reservations import create_reservation
from loyalty.models import PointAccount, PointTransaction
from tests.campaigns.factories import CampaignFactory, SegmentFactory
from tests.channels_hub.factories import LeadFactory, MessageFactory, TicketFactory

from .factories import CustomerFactory, IdentityFactory, ProductFactory, StoreFactory, UserFactory, stock

pytestmark = pytest.mark.django_db
PROJECT_APPS = ("crm", "loyalty", "inventory", "channels_hub", "campaigns", "insights")


# --- The registry covers every model -------------------------------------------------------------
def _covered() -> dict[str, set[str]]:
    covered: dict[str, set[str]] = {}
    for source in registry.personal_data_sources():
        for label, fields in source.anonymises.items():
            covered.setdefault(label, set()).update(fields)
    return covered


def test_every_model_with_a_link_to_a_customer_is_covered_by_an_exporter_and_eraser():
    covered = _covered()
    missing = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            linked = field.is_relation and field.related_model is Customer
            if linked and field.name not in covered.get(model._meta.label, set()):
                missing.append(f"{model._meta.label}.{field.name}")
    assert not missing, f"register these in crm.registry.register_personal_data: {missing}"


def test_every_model_of_the_project_is_either_personal_data_or_declared_not_to_be():
    covered, not_personal = _covered(), registry.not_personal_data()
    unclassified = [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label in PROJECT_APPS
        and model._meta.label not in covered
        and model._meta.label not in not_personal
    ]
    assert not unclassified, f"a new model: register its export and erasure, or declare it not personal: {unclassified}"


def test_the_registered_fields_exist():
    for label, fields in _covered().items():
        model = apps.get_model(label)
        names = {f.name for f in model._meta.get_fields()}
        assert set(fields) <= names, (label, set(fields) - names)


def test_every_app_registers_its_part():
    keys = {source.key for source in registry.personal_data_sources()}
    assert {"crm", "loyalty", "inventory", "channels_hub", "channels_hub.line", "campaigns", "campaigns.line",
            "insights"} <= keys  # fmt: skip


# --- A person with something in every app ---------------------------------------------------------
@pytest.fixture
def hanako():
    """A member who bought, earned and redeemed points, holds an item, wrote to support (once before she
    was known, as a lead), got a campaign mail and unsubscribed another address; and someone else."""
    from loyalty.services import adjust_points
    from tests.loyalty.factories import sell

    customer = CustomerFactory(email="hanako@example.jp", phone="+819011112222", address="渋谷区神宮前1-1")
    IdentityFactory(customer=customer, channel="ec", external_id="EC-77")
    store, product = StoreFactory(code="SHIBUYA"), ProductFactory(sku="COAT-1")
    stock(product, store, 10)
    order = sell(customer, price=10000, store=store, product=product, ref="R-HANAKO")
    adjust_points(customer=customer, points=500, reason="花子さんの誕生日")
    sell(customer, price=3000, redeem=200, store=store, product=product, ref="R-HANAKO-2")
    create_reservation(customer=customer, store=store, product=product, quantity=1, kind="hold")
    ticket = TicketFactory(customer=customer, subject="コートのサイズ交換")
    MessageFactory(ticket=ticket, body="花子です。Mサイズに交換できますか")
    CsatResponse.objects.create(ticket=ticket, score=4, comment="花子: 丁寧でした")
    lead = LeadFactory(email="hanako@example.jp", name="花子")
    MessageFactory(ticket=TicketFactory(customer=None, lead=lead, subject="問い合わせ"), body="はじめまして")
    campaign = CampaignFactory(segment=SegmentFactory(rules={"field": "prefecture", "op": "eq", "value": "東京都"}))
    start_campaign(campaign=campaign, dispatch=False)  # her mail is pending (being sent)
    Suppression.objects.create(email="hanako@example.jp", reason=Suppression.Reason.HARD_BOUNCE)
    other = CustomerFactory(email="other@example.jp", prefecture="大阪府")
    MessageFactory(ticket=TicketFactory(customer=other), body="別の人です")
    return customer, order, other


def test_the_export_holds_her_data_from_every_app(hanako):
    customer, order, _other = hanako
    document = export_customer(customer_id=customer.public_id)
    assert document["customer"] == customer.public_id
    assert document["profile"]["email"] == "hanako@example.jp" and document["profile"]["address"] == "渋谷区神宮前1-1"
    assert document["profile"]["consents"]["email"]["opt_in"] is True
    assert document["identities"] == [
        {"channel": "ec", "external_id": "EC-77", "linked_at": document["identities"][0]["linked_at"]}
    ]
    assert [o["id"] for o in document["orders"]] == [order.public_id, document["orders"][1]["id"]]
    assert document["orders"][0]["lines"][0]["sku"] == "COAT-1"
    assert document["points"]["accounts"][0]["balance"] == PointAccount.objects.get(customer=customer).balance
    assert {t["kind"] for t in document["points"]["ledger"]} >= {"earn", "redeem", "adjust"}
    assert [r["kind"] for r in document["reservations"]] == ["hold"]
    assert {t["subject"] for t in document["tickets"]} == {"コートのサイズ交換", "問い合わせ"}
    assert "花子です。Mサイズに交換できますか" in [m["body"] for t in document["tickets"] for m in t["messages"]]
    assert "別の人です" not in json.dumps(document, ensure_ascii=False, default=str)
    assert [lead["email"] for lead in document["leads"]] == ["hanako@example.jp"]
    assert [m["email"] for m in document["campaign_mails"]] == ["hanako@example.jp"]
    assert [s["email"] for s in document["suppressions"]] == ["hanako@example.jp"]
    assert document["line"] == {"accounts": [], "account_links": [], "postbacks": []}
    assert document["access_log"][-1]["kind"] == "export"  # the export itself is logged, and listed


def test_exporting_a_merged_away_id_exports_the_survivor_and_says_so():
    winner, loser = CustomerFactory(), CustomerFactory(email="old@example.jp")
    merge_customers(winner=winner, loser=loser, reason="same person")
    document = export_customer(customer_id=loser.public_id)
    assert document["customer"] == winner.public_id
    assert document["merged_records"] == [loser.public_id]
    assert loser.public_id in document["note"] and winner.public_id in document["note"]
    assert document["merged_profiles"][0]["email"] == "old@example.jp"


@pytest.mark.parametrize("bad_id", ["cus_NOPE", "", "   ", "x" * 300])
def test_export_or_erasure_of_an_unknown_id_is_a_clear_error_writing_nothing(bad_id):
    with pytest.raises(NotFound):
        export_customer(customer_id=bad_id)
    with pytest.raises(NotFound):
        erase_customer(customer_id=bad_id, reason="request 1")
    assert not AccessLogEntry.objects.exists() and not CustomerErasure.objects.exists()


# --- Erasure ----------------------------------------------------------------------------------------
def _ledgers_are_sound():
    call_command("check_points", stdout=io.StringIO())
    call_command("check_stock", stdout=io.StringIO(), stderr=io.StringIO())


def test_erasure_anonymises_her_in_every_app_and_keeps_the_accounting(hanako):
    customer, _order, other = hanako
    balance = PointAccount.objects.get(customer=customer).balance
    ledger = sorted(PointTransaction.objects.filter(account__customer=customer).values_list("points", flat=True))
    totals = sorted(Order.objects.filter(customer=customer).values_list("total", flat=True))
    erasure = erase_customer(customer_id=customer.public_id, reason="request APPI-7")

    customer.refresh_from_db()
    assert customer.erased_at is not None and erasure.reason == "request APPI-7"
    personal = ("family_name", "given_name", "family_name_kana", "email", "phone", "address", "postal_code")
    assert all(getattr(customer, name) == "" for name in personal)
    assert customer.birth_date is None and not customer.email_opt_in
    assert customer.member_number == f"erased-{customer.pk}"
    assert not ChannelIdentity.objects.filter(customer=customer).exists()
    # the accounting stays
    assert sorted(Order.objects.filter(customer=customer).values_list("total", flat=True)) == totals
    assert PointAccount.objects.get(customer=customer).balance == balance
    assert (
        sorted(PointTransaction.objects.filter(account__customer=customer).values_list("points", flat=True)) == ledger
    )
    assert Reservation.objects.filter(customer=customer).count() == 1
    _ledgers_are_sound()
    # every app's text about her is gone, nobody else's
    assert set(Ticket.objects.filter(customer=customer).values_list("subject", flat=True)) == {""}
    assert set(Message.objects.filter(ticket__customer=customer).values_list("body", flat=True)) == {"(erased)"}
    assert CsatResponse.objects.get(ticket__customer=customer).comment == ""
    lead = Lead.objects.get(pk=Lead.objects.get(tickets__subject="").pk)
    assert (lead.name, lead.email, lead.sender_key) == ("", "", f"erased:{lead.pk}")
    assert set(
        CampaignRecipient.objects.filter(customer=customer).values_list("email", "state", "suppressed_reason")
    ) == {("", "suppressed", "erased")}
    assert not Suppression.objects.filter(email="hanako@example.jp").exists()
    assert set(
        PointTransaction.objects.filter(account__customer=customer, kind="adjust").values_list("reason", flat=True)
    ) == {"(erased)"}
    assert Message.objects.get(ticket__customer=other).body == "別の人です"
    assert Customer.objects.get(pk=other.pk).email == "other@example.jp"
    assert AccessLogEntry.objects.filter(customer=customer, kind="erasure").count() == 1


def test_an_erased_person_is_found_by_no_search_and_the_api_says_erased(hanako, api):
    customer, _order, _other = hanako
    number = customer.member_number
    erase_customer(customer_id=customer.public_id, reason="request")
    reader = api("customers:read")
    for query in ({"q": "田中"}, {"q": number}, {"email": "hanako@example.jp"}, {"phone": "090-1111-2222"}):
        found = [c["id"] for c in reader.get("/api/v1/customers/", query).json()["results"]]
        assert customer.public_id not in found, query
    body = reader.get(f"/api/v1/customers/{customer.public_id}/").json()
    assert body["erased"] is True and body["email"] == "" and body["family_name"] == ""
    assert reader.get("/api/v1/customers/resolve/", {"channel": "ec", "external_id": "EC-77"}).status_code == 404


def test_a_second_erasure_is_refused_and_changes_nothing(hanako):
    customer, _order, _other = hanako
    erase_customer(customer_id=customer.public_id, reason="request")
    before = (list(Customer.objects.values()), list(Message.objects.values()), list(CampaignRecipient.objects.values()))
    with pytest.raises(AlreadyErased):
        erase_customer(customer_id=customer.public_id, reason="again")
    assert (
        list(Customer.objects.values()),
        list(Message.objects.values()),
        list(CampaignRecipient.objects.values()),
    ) == before
    assert CustomerErasure.objects.count() == 1


def test_every_eraser_is_idempotent(hanako):
    customer, _order, _other = hanako
    person = person_for(customer)
    erase_customer(customer_id=customer.public_id, reason="request")
    snapshot = [list(apps.get_model(label).objects.order_by("pk").values()) for label in sorted(_covered())]
    for source in registry.personal_data_sources():
        source.erase(person)  # run again: nothing left to change
    again = [list(apps.get_model(label).objects.order_by("pk").values()) for label in sorted(_covered())]
    volatile = {"updated_at", "email_opt_in_at", "sms_opt_in_at", "erased_at", "opted_out_at"}
    strip = lambda rows: [[{k: v for k, v in r.items() if k not in volatile} for r in t] for t in rows]  # noqa: E731
    assert strip(again) == strip(snapshot)


def test_erasure_covers_the_records_merged_into_her():
    winner, loser = CustomerFactory(email="new@example.jp"), CustomerFactory(email="old@example.jp", address="大阪")
    merge_customers(winner=winner, loser=loser, reason="same person")
    erase_customer(customer_id=loser.public_id, reason="request")  # an old id erases the survivor and all
    assert set(Customer.objects.values_list("email", "address")) == {("", "")}
    assert Customer.objects.filter(erased_at__isnull=False).count() == 2


@pytest.mark.parametrize("reason", ["", "   ", "x" * 256])
def test_erasure_without_a_reason_is_refused_naming_reason_and_writes_nothing(reason):
    customer = CustomerFactory()
    with pytest.raises(ValidationError) as error:
        erase_customer(customer_id=customer.public_id, reason=reason)
    assert "reason" in error.value.message_dict
    customer.refresh_from_db()
    assert customer.erased_at is None and customer.email and not AccessLogEntry.objects.exists()


def test_no_personal_data_reaches_the_logs(hanako, caplog):
    customer, _order, _other = hanako
    with caplog.at_level(logging.DEBUG):
        export_customer(customer_id=customer.public_id)
        erase_customer(customer_id=customer.public_id, reason="request")
    text = caplog.text
    assert customer.public_id in text
    for secret in ("hanako@example.jp", "田中", "花子", "+819011112222", "渋谷区"):
        assert secret not in text


# --- Commands -----------------------------------------------------------------------------------
@translation.override("en")
def test_the_commands_export_erase_and_show_who_saw_her(hanako):
    customer, _order, _other = hanako
    out = io.StringIO()
    call_command("export_customer", customer.public_id, stdout=out)
    assert json.loads(out.getvalue())["profile"]["email"] == "hanako@example.jp"
    out = io.StringIO()
    call_command("erase_customer", customer.public_id, "--reason", "request 9", "--yes", stdout=out)
    assert f"Erased {customer.public_id}" in out.getvalue()
    out = io.StringIO()
    call_command("access_log", "--customer", customer.public_id, stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split("\t")[2] for line in lines] == ["erasure", "export"]
    assert lines[1].split("\t")[1] == "command:export_customer"


@translation.override("en")
def test_the_commands_refuse_unknown_and_erased_ids_clearly(hanako):
    customer, _order, _other = hanako
    for command, args in (("export_customer", ["cus_NOPE"]), ("access_log", ["--customer", "cus_NOPE"]),
                          ("erase_customer", ["cus_NOPE", "--reason", "r", "--yes"])):  # fmt: skip
        with pytest.raises(CommandError, match="No customer"):
            call_command(command, *args, stdout=io.StringIO())
    call_command("erase_customer", customer.public_id, "--reason", "r", "--yes", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already been erased"):
        call_command("erase_customer", customer.public_id, "--reason", "r", "--yes", stdout=io.StringIO())


@translation.override("en")
def test_the_erase_command_asks_before_it_is_done(hanako, monkeypatch):
    customer, _order, _other = hanako
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="nothing was erased"):
        call_command("erase_customer", customer.public_id, "--reason", "r", stdout=io.StringIO())
    customer.refresh_from_db()
    assert customer.erased_at is None


# --- Admin --------------------------------------------------------------------------------------
def test_an_admin_exports_and_erases_from_the_customer_page(admin_client, hanako):
    customer, _order, _other = hanako
    page = admin_client.get(f"/admin/crm/customer/{customer.pk}/change/")
    assert "/personal-data/export/" in page.content.decode() and "/personal-data/erase/" in page.content.decode()
    download = admin_client.get(f"/admin/crm/customer/{customer.pk}/personal-data/export/")
    assert download["Content-Disposition"] == f'attachment; filename="{customer.public_id}.json"'
    assert json.loads(download.content)["profile"]["email"] == "hanako@example.jp"
    warning = admin_client.get(f"/admin/crm/customer/{customer.pk}/personal-data/erase/").content.decode()
    assert "元に戻せません" in warning  # said before it is done (the admin works in Japanese)
    wrong = admin_client.post(f"/admin/crm/customer/{customer.pk}/personal-data/erase/",
                              {"reason": "request", "confirm": "cus_other"})  # fmt: skip
    assert wrong.status_code == 200 and "を正確に入力してください" in wrong.content.decode()
    customer.refresh_from_db()
    assert customer.erased_at is None
    done = admin_client.post(f"/admin/crm/customer/{customer.pk}/personal-data/erase/",
                             {"reason": "request 12", "confirm": customer.public_id})  # fmt: skip
    assert done.status_code == 302
    customer.refresh_from_db()
    assert customer.erased_at is not None and customer.erasure.actor_label == "admin@example.com"
    kinds = list(AccessLogEntry.objects.filter(customer=customer).order_by("pk").values_list("kind", flat=True))
    assert kinds == ["admin_page", "export", "erasure"]


def test_only_admins_may_erase(client, hanako):
    from tests.mfa import login_as

    customer, _order, _other = hanako
    login_as(client, UserFactory(role="agent", is_staff=True))
    assert client.get(f"/admin/crm/customer/{customer.pk}/personal-data/erase/").status_code in (302, 403)
    assert client.post(f"/admin/crm/customer/{customer.pk}/personal-data/erase/",
                       {"reason": "r", "confirm": customer.public_id}).status_code in (302, 403)  # fmt: skip
    customer.refresh_from_db()
    assert customer.erased_at is None


def test_the_admin_lists_the_access_log_with_filters(admin_client, hanako):
    customer, _order, _other = hanako
    export_customer(customer_id=customer.public_id)
    page = admin_client.get("/admin/crm/accesslogentry/", {"kind": "export", "q": customer.public_id})
    assert page.status_code == 200
    assert customer.public_id in page.content.decode() and "command:export_customer" in page.content.decode()
    assert admin_client.get(f"/admin/crm/accesslogentry/{AccessLogEntry.objects.get().pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/crm/accesslogentry/{AccessLogEntry.objects.get().pk}/delete/").status_code == 403


def test_reservations_taken_after_erasure_still_count_stock(hanako):
    customer, _order, _other = hanako
    erase_customer(customer_id=customer.public_id, reason="request")
    assert Reservation.objects.get(customer=customer).status == "active"
    _ledgers_are_sound()
    assert timezone.now() - customer.erasure.created_at < dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("form", "field"),
    [({"reason": "", "confirm": "{id}"}, "reason"), ({"reason": "x" * 256, "confirm": "{id}"}, "reason"),
     ({"reason": "request", "confirm": ""}, "confirm"), ({}, "reason")],
)  # fmt: skip
def test_the_admin_erase_form_refuses_bad_input_naming_the_field(admin_client, form, field):
    customer = CustomerFactory()
    data = {k: v.format(id=customer.public_id) for k, v in form.items()}
    response = admin_client.post(f"/admin/crm/customer/{customer.pk}/personal-data/erase/", data)
    assert response.status_code == 200 and field in response.context["form"].errors
    customer.refresh_from_db()
    assert customer.erased_at is None and not CustomerErasure.objects.exists()


def test_an_erased_customer_cannot_be_erased_again_from_the_admin(admin_client):
    customer = CustomerFactory()
    erase_customer(customer_id=customer.public_id, reason="request")
    page = admin_client.get(f"/admin/crm/customer/{customer.pk}/change/").content.decode()
    assert "/personal-data/erase/" not in page
    response = admin_client.post(f"/admin/crm/customer/{customer.pk}/personal-data/erase/",
                                 {"reason": "again", "confirm": customer.public_id}, follow=True)  # fmt: skip
    assert "すでに消去されています" in response.content.decode()
    assert CustomerErasure.objects.count() == 1
