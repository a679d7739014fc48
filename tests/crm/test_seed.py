import io

import pytest
from django.core.management import call_command
from django.db.models import F, Sum

from crm.ids import luhn_check_digit
from crm.models import ChannelIdentity, Customer, Order, OrderLine, Product, Store
from crm.normalize import format_phone_national, normalize_kana, parse_phone
from crm.seeding import CustomerGenerator, anchor_time, ulid_string
from crm.selectors import customer_search, duplicate_groups
from crm.services.customers import refresh_search_keys

pytestmark = pytest.mark.django_db


def seed(**options):
    out = io.StringIO()
    call_command("seed_demo", stdout=out, stderr=io.StringIO(), verbosity=0, **options)
    return out.getvalue()


@pytest.fixture
def seeded():
    seed(customers=50, orders=200, seed=3, history_only=True)


def to_hiragana(katakana: str) -> str:
    return "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in katakana)


def test_small_seed_writes_stores_catalogue_customers_and_orders(seeded):
    assert Customer.objects.count() == 50
    assert Order.objects.count() == 200
    assert OrderLine.objects.count() >= 200
    assert Product.objects.count() >= 200
    assert set(Product.objects.values_list("category", flat=True)) >= {"outerwear", "tops", "bottoms", "shoes"}
    warehouse = Store.objects.get(code="EC-WH")
    assert warehouse.kind == Store.Kind.WAREHOUSE
    assert Store.objects.filter(kind=Store.Kind.STORE).values("prefecture").distinct().count() >= 5
    assert ChannelIdentity.objects.exists()
    assert set(Order.objects.values_list("channel", flat=True)) == {"store", "ec", "app"}


def test_seeded_customers_hold_what_the_services_would_write(seeded):
    for customer in Customer.objects.all():
        assert customer.public_id.startswith("cus_") and len(customer.public_id) == 30
        assert len(customer.member_number) == 12
        assert luhn_check_digit(customer.member_number[:11]) == customer.member_number[11]
        assert customer.family_name_kana == normalize_kana(customer.family_name_kana)
        assert customer.given_name_kana == normalize_kana(customer.given_name_kana)
        keys = Customer(**{f: getattr(customer, f) for f in ("family_name", "given_name",
                                                             "family_name_kana", "given_name_kana")})  # fmt: skip
        refresh_search_keys(keys)
        assert (customer.search_name, customer.search_kana) == (keys.search_name, keys.search_kana)
        assert customer.email == customer.email.lower()
        assert not customer.email or customer.email.endswith(("example.jp", "example.com", "example.net",
                                                              "example.org"))  # fmt: skip
        assert not customer.phone or parse_phone(customer.phone) == customer.phone
        assert customer.created_at <= customer.updated_at
        if customer.email_opt_in:
            assert customer.email_opt_in_at is not None and customer.email_opt_in_source
        else:
            assert customer.email_opt_in_at is None and customer.email_opt_in_source == ""
    assert Customer.objects.values("member_number").distinct().count() == 50
    assert Customer.objects.values("public_id").distinct().count() == 50


def test_every_seeded_customer_is_found_by_kana_prefix_and_by_phone(seeded):
    customers = list(Customer.objects.all())
    assert sum(1 for c in customers if c.phone) >= 40
    for customer in customers:
        prefix = customer.family_name_kana[:2]
        assert customer_search(query=prefix).filter(pk=customer.pk).exists()
        assert customer_search(query=to_hiragana(prefix)).filter(pk=customer.pk).exists()
        assert customer_search(query=customer.member_number).filter(pk=customer.pk).exists()
        if customer.phone:
            typed = format_phone_national(customer.phone)  # 090-1234-5678, as staff type it
            assert customer_search(query=typed).filter(pk=customer.pk).exists()
            assert customer_search(phone=typed).filter(pk=customer.pk).exists()


def test_seeded_orders_satisfy_the_totals_and_follow_the_customer(seeded):
    lines = OrderLine.objects.all()
    assert not lines.exclude(amount=F("quantity") * F("unit_price")).exists()
    for order in Order.objects.annotate(lines_total=Sum("lines__amount")):
        assert order.public_id.startswith("ord_")
        assert order.subtotal == order.lines_total
        assert order.total == order.subtotal - order.points_redeemed
        assert order.ordered_at <= anchor_time()
        if order.customer_id:
            assert order.ordered_at >= order.customer.created_at
        if order.channel == "store":
            assert order.store.kind == Store.Kind.STORE
        else:
            assert order.customer_id is not None


def test_seeded_data_has_duplicates_for_the_duplicates_page(seeded):
    kinds = {group.kind for group in duplicate_groups()}
    assert kinds == {"email", "phone"}


def test_seeding_again_adds_customers_after_the_existing_ones(seeded):
    first = set(Customer.objects.values_list("pk", flat=True))
    orders_before = Order.objects.count()

    seed(customers=20, orders=10, seed=3, history_only=True)

    added = Customer.objects.exclude(pk__in=first)
    assert added.count() == 20
    assert min(added.values_list("pk", flat=True)) > max(first)
    assert Customer.objects.values("member_number").distinct().count() == 70
    assert Customer.objects.values("public_id").distinct().count() == 70
    assert Order.objects.count() == orders_before + 10
    assert Store.objects.filter(code="EC-WH").count() == 1
    assert Product.objects.values("sku").distinct().count() == Product.objects.count()


def test_the_same_seed_generates_the_same_customers():
    def rows(seed):
        generator = CustomerGenerator(count=30, start_id=1, seed=seed, store_ids={"TKY-SBY": 1}, anchor=anchor_time())
        return [row for batch in generator.batches(size=7) for row in batch.customers]

    assert rows(5) == rows(5)
    assert rows(5) != rows(6)


def test_ulids_are_the_canonical_encoding():
    from ulid import ULID

    value = ULID()
    as_int = int(value)
    assert ulid_string(as_int >> 80, as_int & (2**80 - 1)) == str(value)


def test_negative_counts_are_refused():
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        seed(customers=-1)
    assert not Customer.objects.exists()
