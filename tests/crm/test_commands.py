import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from rest_framework.test import APIClient

from crm.models import ApiKey, Customer, User
from crm.services import merge_customers
from crm.services.api_keys import hash_api_key
from crm.services.imports import CSV_COLUMNS

from .factories import CustomerFactory, StoreFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English; the default language is Japanese."""
    with translation.override("en"):
        yield


def call(command, *args, **kwargs) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


# --- import_customers -------------------------------------------------------------------------------


def test_import_command_imports_and_prints_a_summary(tmp_path):
    StoreFactory(code="SHIBUYA")
    path = tmp_path / "customers.csv"
    path.write_text(
        "member_number,family_name,family_name_kana,phone,home_store\n"
        "100000000001,佐藤,さとう,090-1234-5678,SHIBUYA\n"
        "100000000002,鈴木,すずき,,\n",
        encoding="utf-8",
    )

    out, _err = call("import_customers", str(path))

    assert "Created 2, updated 0, unchanged 0, failed 0." in out
    assert Customer.objects.get(member_number="100000000001").phone == "+819012345678"


def test_import_command_keeps_valid_rows_lists_bad_ones_and_fails(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("member_number,phone\n200000000001,\n200000000002,not a phone\n", encoding="utf-8")
    err = io.StringIO()

    with pytest.raises(CommandError, match="1 rows failed"):
        call_command("import_customers", str(path), stdout=io.StringIO(), stderr=err)

    assert "line 3: phone: Enter a valid phone number." in err.getvalue()
    assert list(Customer.objects.values_list("member_number", flat=True)) == ["200000000001"]


def test_import_command_reads_utf8_with_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("member_number,family_name\n300000000001,石井\n".encode("utf-8-sig"))

    call("import_customers", str(path))

    assert Customer.objects.get().family_name == "石井"


def test_import_command_reads_shift_jis_from_excel(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "member_number,family_name,family_name_kana,email_opt_in\r\n400000000001,髙橋,ﾀｶﾊｼ,はい\r\n".encode("cp932")
    )

    call("import_customers", str(path), encoding="cp932")

    customer = Customer.objects.get()
    assert (customer.family_name, customer.family_name_kana, customer.email_opt_in) == ("髙橋", "タカハシ", True)


def test_import_command_explains_a_shift_jis_file_read_as_utf8(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("member_number,family_name\r\n400000000002,高橋\r\n".encode("cp932"))

    with pytest.raises(CommandError, match="--encoding cp932"):
        call("import_customers", str(path))

    assert not Customer.objects.exists()


def test_import_command_dry_run_writes_nothing(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("member_number,family_name\n500000000001,森\n", encoding="utf-8")

    out, _err = call("import_customers", str(path), dry_run=True)

    assert "Dry run" in out
    assert "Created 1" in out
    assert not Customer.objects.exists()


def test_import_command_refuses_unknown_columns(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("member_number,shoe_size\n600000000001,26\n", encoding="utf-8")

    with pytest.raises(CommandError, match="shoe_size"):
        call("import_customers", str(path))

    assert not Customer.objects.exists()


def test_import_command_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call("import_customers", str(tmp_path / "missing.csv"))


# --- export_customers -------------------------------------------------------------------------------


def test_export_command_writes_active_customers_to_stdout():
    winner = CustomerFactory(member_number="700000000001")
    loser = CustomerFactory(member_number="700000000002")
    merge_customers(winner=winner, loser=loser, reason="same person")

    out, _err = call("export_customers")

    lines = out.splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert [line.split(",")[0] for line in lines[1:]] == ["700000000001"]


def test_export_command_writes_a_file_with_bom_for_excel_that_imports_back(tmp_path):
    CustomerFactory(member_number="800000000001", phone="+819012345678")
    path = tmp_path / "out.csv"

    call("export_customers", output=str(path), bom=True)

    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    out, _err = call("import_customers", str(path))
    assert "Created 0, updated 0, unchanged 1, failed 0." in out


# --- create_api_key ---------------------------------------------------------------------------------


def test_create_api_key_prints_the_key_last_and_it_authenticates():
    client = APIClient()
    assert client.get("/api/v1/stores/").status_code == 401

    out, _err = call("create_api_key", "--name", "EC site", "--scopes", "catalog:read,customers:read")

    raw_key = out.strip().splitlines()[-1]
    assert " " not in raw_key
    api_key = ApiKey.objects.get()
    assert api_key.key_hash == hash_api_key(raw_key)
    assert api_key.scopes == ["catalog:read", "customers:read"]
    assert raw_key not in str(ApiKey.objects.values().get())
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert client.get("/api/v1/stores/").status_code == 200


def test_create_api_key_with_an_unknown_scope_names_it_and_creates_nothing():
    with pytest.raises(CommandError, match="stores:delete"):
        call("create_api_key", "--name", "EC site", "--scopes", "catalog:read,stores:delete")

    assert not ApiKey.objects.exists()


def test_create_api_key_needs_a_name():
    with pytest.raises(CommandError):
        call("create_api_key", "--name", " ", "--scopes", "catalog:read")

    assert not ApiKey.objects.exists()


# --- ensure_demo_admin ------------------------------------------------------------------------------


@pytest.fixture
def dev(settings, tmp_path):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    return settings


def test_ensure_demo_admin_creates_an_admin_and_prints_the_login(dev, client):
    out, _err = call("ensure_demo_admin")

    password = out.split("password:")[1].strip()
    assert "http://127.0.0.1:8000/accounts/login/" in out
    assert "admin@tsunagu.example" in out
    user = User.objects.get(email="admin@tsunagu.example")
    assert user.is_superuser and user.is_staff
    assert user.groups.filter(name="admin").exists()
    assert (dev.VAR_DIR / "demo_admin.txt").read_text().strip() == password
    assert client.login(email="admin@tsunagu.example", password=password)


def test_ensure_demo_admin_is_idempotent_and_prints_the_same_password(dev):
    first, _ = call("ensure_demo_admin")
    second, _ = call("ensure_demo_admin")

    assert first.split("password:")[1] == second.split("password:")[1]
    assert User.objects.count() == 1


def test_ensure_demo_admin_reuses_the_stored_password_after_a_database_reset(dev):
    first, _ = call("ensure_demo_admin")
    User.objects.all().delete()

    second, _ = call("ensure_demo_admin")

    assert first.split("password:")[1] == second.split("password:")[1]


def test_ensure_demo_admin_leaves_an_existing_superuser_alone(dev):
    User.objects.create_superuser("owner@shop.example", "a-long-password-1")

    out, _err = call("ensure_demo_admin")

    assert "password:" not in out
    assert not User.objects.filter(email="admin@tsunagu.example").exists()


def test_ensure_demo_admin_refuses_without_debug(dev):
    dev.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call("ensure_demo_admin")

    assert not User.objects.exists()


def test_ensure_demo_admin_ignores_staff_who_are_not_superusers(dev):
    UserFactory(role="admin")

    call("ensure_demo_admin")

    assert User.objects.filter(email="admin@tsunagu.example", is_superuser=True).exists()
    assert Group.objects.get(name="admin").user_set.count() == 2
