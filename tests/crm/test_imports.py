import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from crm.models import ConsentSource, Customer
from crm.services import create_customer, export_customers_csv, import_customers, merge_customers, read_customer_csv
from crm.services.imports import CSV_COLUMNS

from .factories import CustomerFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English; the default language is Japanese."""
    with translation.override("en"):
        yield


HEADER = (
    "member_number,family_name,given_name,family_name_kana,given_name_kana,email,phone,birth_date,home_store,"
    "email_opt_in,sms_opt_in"
)


def run(text: str, **kwargs):
    return import_customers(rows=read_customer_csv(io.StringIO(text)), **kwargs)


def test_import_creates_customers_with_normalised_data_and_import_consent():
    StoreFactory(code="SHIBUYA")
    result = run(
        f"{HEADER}\n"
        "100000000001,佐藤,太郎,さとう,たろう,Taro@Example.JP,090-1234-5678,1985/02/03,SHIBUYA,はい,0\n"
        ",鈴木,一郎,ｽｽﾞｷ,ｲﾁﾛｳ,,,,,,\n"
    )

    assert (result.created, result.updated, result.unchanged, result.errors) == (2, 0, 0, [])
    taro = Customer.objects.get(member_number="100000000001")
    assert taro.family_name_kana == "サトウ"
    assert taro.email == "taro@example.jp"
    assert taro.phone == "+819012345678"
    assert taro.birth_date == dt.date(1985, 2, 3)
    assert taro.home_store.code == "SHIBUYA"
    assert taro.email_opt_in is True
    assert taro.email_opt_in_source == ConsentSource.IMPORT
    assert taro.search_kana == "サトウタロウ"
    ichiro = Customer.objects.get(family_name="鈴木")
    assert len(ichiro.member_number) == 12  # generated
    assert ichiro.search_kana == "スズキイチロウ"


def test_import_updates_existing_members_and_counts_identical_rows_as_unchanged():
    changed = CustomerFactory(member_number="200000000001", phone="+819011112222", email_opt_in=False)
    same = CustomerFactory(member_number="200000000002", email="same@example.jp", phone="+819011113333")
    before = Customer.objects.get(pk=same.pk).updated_at

    result = run(
        "member_number,phone,email_opt_in,email\n"
        "200000000001,080-9999-8888,yes,new@example.jp\n"
        "200000000002,090-1111-3333,,SAME@example.jp\n"
    )

    assert (result.created, result.updated, result.unchanged, result.errors) == (0, 1, 1, [])
    changed.refresh_from_db()
    assert changed.phone == "+818099998888"
    assert changed.email == "new@example.jp"
    assert changed.email_opt_in is True
    assert changed.email_opt_in_source == ConsentSource.IMPORT
    assert Customer.objects.get(pk=same.pk).updated_at == before


def test_empty_opt_in_cell_leaves_consent_as_it_is():
    customer = CustomerFactory(member_number="300000000001", email_opt_in=True)

    result = run("member_number,email_opt_in,family_name\n300000000001,,山田\n")

    assert result.updated == 1
    customer.refresh_from_db()
    assert customer.email_opt_in is True
    assert customer.family_name == "山田"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("1", True), ("0", False), ("TRUE", True), ("false", False), ("Yes", True), ("no", False),
     ("はい", True), ("いいえ", False), ("１", True)],
)  # fmt: skip
def test_opt_in_cells_accept_the_usual_spellings(cell, expected):
    result = run(f"member_number,sms_opt_in\n400000000001,{cell}\n")

    assert result.ok, result.error_messages()
    assert Customer.objects.get(member_number="400000000001").sms_opt_in is expected


def test_bad_rows_are_reported_with_line_and_field_and_only_valid_rows_are_kept():
    StoreFactory(code="SHIBUYA")
    result = run(
        "member_number,family_name,email,phone,birth_date,home_store,email_opt_in\n"
        "500000000001,良い,ok1@example.jp,,,,\n"  # line 2
        "500000000002,電話,,12345,,,\n"  # line 3
        "500000000003,メール,not-an-email,,,,\n"  # line 4
        "500000000004,店舗,,,,NOWHERE,\n"  # line 5
        "500000000005,日付,,,1990-13-45,,\n"  # line 6
        "500000000006,真偽,,,,,maybe\n"  # line 7
        "500000000001,重複,,,,,\n"  # line 8
        "500000000007,良い,ok2@example.jp,,1990/04/01,SHIBUYA,1\n"  # line 9
    )

    assert result.created == 2
    assert set(Customer.objects.values_list("member_number", flat=True)) == {"500000000001", "500000000007"}
    assert [(line, field) for line, field, _message in result.errors] == [
        (3, "phone"),
        (4, "email"),
        (5, "home_store"),
        (6, "birth_date"),
        (7, "email_opt_in"),
        (8, "member_number"),
    ]
    assert result.failed == 6
    messages = result.error_messages()
    assert messages[0] == "line 3: phone: Enter a valid phone number."
    assert "NOWHERE" in messages[2]
    assert "line 2" in messages[5]  # the duplicate names where the number was first used
    assert Customer.objects.get(member_number="500000000001").family_name == "良い"


def test_a_row_with_several_problems_names_each_field():
    result = run("member_number,email,phone,prefecture\nab,bad,123,火星\n")

    assert {field for _line, field, _message in result.errors} == {"member_number", "email", "phone"}
    assert result.failed == 1
    assert not Customer.objects.exists()


def test_invalid_prefecture_is_reported_and_nothing_written():
    result = run("member_number,prefecture\n600000000001,火星\n")

    assert [(line, field) for line, field, _m in result.errors] == [(2, "prefecture")]
    assert not Customer.objects.exists()


def test_unknown_columns_refuse_the_file_before_any_row_is_written():
    with pytest.raises(ValidationError) as excinfo:
        run("member_number,family_name,favourite_colour\n700000000001,青木,blue\n")

    assert "favourite_colour" in excinfo.value.messages[0]
    assert not Customer.objects.exists()


def test_a_column_named_twice_refuses_the_file():
    with pytest.raises(ValidationError) as excinfo:
        run("member_number,email,Email\n700000000002,a@example.jp,b@example.jp\n")

    assert "email" in excinfo.value.messages[0]
    assert not Customer.objects.exists()


def test_rows_with_too_many_or_too_few_cells_are_reported():
    result = run("member_number,family_name,given_name\n800000000001,森,花,余分\n800000000002,林\n800000000003,林,葉\n")

    assert [line for line, _field, _m in result.errors] == [2, 3]
    assert list(Customer.objects.values_list("member_number", flat=True)) == ["800000000003"]


def test_blank_lines_are_skipped_and_line_numbers_stay_those_of_the_file():
    result = run(
        'member_number,phone,address\n\n,,\n900000000001,bad,\n900000000002,,"二行\nの住所"\n900000000003,bad,\n'
    )

    assert result.created == 1
    assert [line for line, _field, _m in result.errors] == [4, 7]


def test_header_with_bom_and_odd_case_is_understood():
    result = run("\ufeffMember_Number , Family_Name\n910000000001,石井\n")

    assert result.created == 1
    assert Customer.objects.get().family_name == "石井"


def test_a_merged_members_number_is_refused_with_the_survivors_number():
    winner = CustomerFactory(member_number="920000000001")
    loser = CustomerFactory(member_number="920000000002")
    merge_customers(winner=winner, loser=loser, reason="same person")

    result = run("member_number,family_name\n920000000002,別人\n")

    assert result.errors[0][:2] == (2, "member_number")
    assert "920000000001" in result.errors[0][2]
    winner.refresh_from_db()
    assert winner.family_name == "田中"


def test_dry_run_checks_every_row_and_writes_nothing():
    existing = CustomerFactory(member_number="930000000001", family_name="前")

    result = run(
        "member_number,family_name,phone\n930000000001,後,\n930000000002,新,\n930000000003,悪,bad\n", dry_run=True
    )

    assert (result.created, result.updated, result.failed, result.dry_run) == (1, 1, 1, True)
    assert Customer.objects.count() == 1
    existing.refresh_from_db()
    assert existing.family_name == "前"


def test_progress_is_reported_for_every_row():
    seen = []

    run("member_number\n940000000001\n940000000002\n\n", progress=seen.append)

    assert sum(seen) == 3


def test_export_then_import_changes_nothing():
    store = StoreFactory(code="UMEDA")
    profile = {"family_name": "田中", "given_name": "花子", "family_name_kana": "たなか", "given_name_kana": "ﾊﾅｺ"}
    create_customer(
        **profile, email="Hanako@Example.JP", phone="03-1234-5678", birth_date=dt.date(1990, 4, 1),
        home_store=store, postal_code="1500001", prefecture="東京都", address="渋谷区神南1-1-1", sms_opt_in=True,
    )  # fmt: skip
    create_customer(family_name="伊藤")
    create_customer(family_name="Smith", phone="+44 20 7946 0958", email_opt_in=True)  # a foreign number
    winner, loser = create_customer(family_name="統合"), create_customer(family_name="統合")
    merge_customers(winner=winner, loser=loser, reason="same person")
    snapshot = list(Customer.objects.order_by("pk").values())

    exported = "".join(export_customers_csv(bom=True))
    result = run(exported.removeprefix("\ufeff"))

    assert (result.created, result.updated, result.unchanged, result.errors) == (0, 0, 4, [])
    assert list(Customer.objects.order_by("pk").values()) == snapshot


def test_export_writes_the_documented_columns_and_leaves_out_merged_customers():
    winner, loser = CustomerFactory(member_number="950000000001"), CustomerFactory(member_number="950000000002")
    merge_customers(winner=winner, loser=loser, reason="same person")

    lines = "".join(export_customers_csv()).splitlines()

    assert lines[0] == ",".join(CSV_COLUMNS)
    assert len(lines) == 2
    assert lines[1].startswith("950000000001,田中,花子,タナカ,ハナコ,")


def test_export_defuses_excel_formulas_and_the_import_reads_them_back():
    customer = create_customer(
        family_name='=HYPERLINK("http://evil.example","x")', address="-1-2", phone="+44 20 7946 0958"
    )

    exported = "".join(export_customers_csv())
    row = next(csv.DictReader(io.StringIO(exported)))

    assert row["family_name"].startswith("'=HYPERLINK")
    assert row["address"] == "'-1-2"
    assert row["phone"].startswith("'+44")
    assert run(exported).unchanged == 1
    customer.refresh_from_db()
    assert customer.family_name.startswith("=HYPERLINK")
