import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command, execute_from_command_line
from django.utils import timezone

from crm.exceptions import InvalidState
from crm.models import Order
from crm.services import merge_customers, record_return
from inventory.exceptions import OutOfStock, SyncBatchConflict
from inventory.models import Discrepancy, Reservation, StockLevel, StockMovement, StockSyncBatch, Transfer
from inventory.selectors import stock_mismatches
from inventory.services import (
    adjust_stock,
    cancel_reservation,
    create_reservation,
    expire_reservations,
    fulfil_reservation,
    receive_transfer,
    ship_transfer,
    sync_stock_counts,
)

from .factories import CustomerFactory, ProductFactory, StoreFactory, WarehouseFactory, next_slot, order, stock

pytestmark = pytest.mark.django_db


def level(store, product):
    return StockLevel.objects.filter(store=store, product=product).first()


def reserve(store, product, quantity=1, kind="hold", customer=None, **kw):
    return create_reservation(
        customer=customer or CustomerFactory(), store=store, product=product, quantity=quantity, kind=kind, **kw
    )


# --- ledger -------------------------------------------------------------------------------------


def test_receipt_adds_on_hand_and_levels_equal_the_ledger():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 5)
    stock(store, product, 3)
    assert (level(store, product).on_hand, level(store, product).reserved) == (8, 0)
    assert StockMovement.objects.filter(kind="receipt").count() == 2
    assert stock_mismatches() == []


def test_check_stock_fails_when_a_level_disagrees_with_its_movements(capsys):
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 5)
    call_command("check_stock")
    StockLevel.objects.filter(store=store).update(on_hand=7)
    with pytest.raises(SystemExit) as exit_info:  # as from the shell: a non-zero exit status
        execute_from_command_line(["manage.py", "check_stock"])
    assert exit_info.value.code != 0
    assert "on_hand=7" in capsys.readouterr().err


def test_adjustment_needs_a_reason_and_cannot_go_below_reserved():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 2)
    reserve(store, product, 2)
    with pytest.raises(ValidationError) as err:
        adjust_stock(store=store, product=product, delta=-1, reason="damaged")
    assert "delta" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        adjust_stock(store=store, product=product, delta=1, reason=" ")
    assert "reason" in err.value.message_dict
    assert StockMovement.objects.filter(kind="adjustment").count() == 0


# --- reservations ----------------------------------------------------------------------------------


def test_a_hold_reserves_stock_and_has_a_pickup_code_and_expiry():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 3)
    before = timezone.now()
    rsv = reserve(store, product, 2, kind="hold")
    assert rsv.public_id.startswith("rsv_")
    assert len(rsv.pickup_code) == 6
    assert rsv.status == "active"
    assert before + dt.timedelta(days=3) <= rsv.expires_at <= timezone.now() + dt.timedelta(days=3)
    lvl = level(store, product)
    assert (lvl.on_hand, lvl.reserved, lvl.available) == (3, 2, 1)
    assert stock_mismatches() == []


def test_hold_expiry_is_configurable(settings):
    settings.INVENTORY_HOLD_DAYS = 10
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 1)
    rsv = reserve(store, product)
    assert rsv.expires_at > timezone.now() + dt.timedelta(days=9)


def test_reserving_more_than_available_is_refused_and_writes_nothing():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 2)
    reserve(store, product, 1)
    with pytest.raises(OutOfStock):
        reserve(store, product, 2)
    assert Reservation.objects.count() == 1
    assert level(store, product).reserved == 1
    assert StockMovement.objects.filter(kind="reserve").count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"kind": "borrow"}, "kind"),
        ({"kind": "try_on"}, "slot_start"),
        ({"kind": "try_on", "slot_start": timezone.now() - dt.timedelta(minutes=5)}, "slot_start"),
        ({"kind": "hold", "slot_start": timezone.now() + dt.timedelta(days=1)}, "slot_start"),
    ],
)
def test_bad_reservation_input_is_refused_and_writes_nothing(kwargs, field):
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 5)
    args = {"quantity": 1, "kind": "hold", **kwargs}
    with pytest.raises(ValidationError) as err:
        reserve(store, product, **args)
    assert field in err.value.message_dict
    assert Reservation.objects.count() == 0
    assert level(store, product).reserved == 0


@pytest.mark.parametrize("kind", ["try_on", "hold", "pickup"])
def test_reservations_at_the_ec_warehouse_are_refused(kind):
    warehouse, product = WarehouseFactory(), ProductFactory()
    stock(warehouse, product, 5)
    slot = timezone.now() + dt.timedelta(days=1) if kind == "try_on" else None
    with pytest.raises(ValidationError) as err:
        reserve(warehouse, product, kind=kind, slot_start=slot)
    assert "store" in err.value.message_dict
    assert Reservation.objects.count() == 0


def test_try_on_expires_after_its_slot_and_fulfilling_it_puts_the_item_back_on_the_floor():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 1)
    slot = next_slot()
    rsv = reserve(store, product, kind="try_on", slot_start=slot)
    assert rsv.expires_at == slot + dt.timedelta(minutes=30)
    fulfil_reservation(reservation=rsv)
    lvl = level(store, product)
    assert (lvl.on_hand, lvl.reserved) == (1, 0)
    assert StockMovement.objects.filter(kind="release").count() == 1


def test_handing_over_a_hold_takes_the_units_out_of_stock_once():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 3)
    rsv = reserve(store, product, 2)
    rsv = fulfil_reservation(reservation=rsv)
    assert rsv.status == "fulfilled" and rsv.closed_at is not None
    fulfil_reservation(reservation=rsv)  # a retried hand-over changes nothing
    lvl = level(store, product)
    assert (lvl.on_hand, lvl.reserved) == (1, 0)
    sale = StockMovement.objects.get(kind="sale")
    assert (sale.on_hand_delta, sale.reserved_delta) == (-2, -2)
    assert stock_mismatches() == []


def test_cancel_releases_and_a_handed_over_reservation_cannot_be_cancelled():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 2)
    first, second = reserve(store, product), reserve(store, product)
    cancel_reservation(reservation=first)
    assert level(store, product).reserved == 1
    fulfil_reservation(reservation=second)
    with pytest.raises(InvalidState):
        cancel_reservation(reservation=second)
    with pytest.raises(InvalidState):
        fulfil_reservation(reservation=first)
    lvl = level(store, product)
    assert (lvl.on_hand, lvl.reserved) == (1, 0)


def test_expiry_releases_overdue_reservations_once():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 3)
    overdue, fresh = reserve(store, product), reserve(store, product)
    Reservation.objects.filter(pk=overdue.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert expire_reservations() == 1
    assert expire_reservations() == 0
    overdue.refresh_from_db()
    fresh.refresh_from_db()
    assert (overdue.status, fresh.status) == ("expired", "active")
    assert level(store, product).reserved == 1
    assert StockMovement.objects.filter(kind="release").count() == 1


def test_pickup_code_is_unique_among_active_reservations(monkeypatch):
    from inventory.services import reservations

    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 3)
    codes = iter(["AAAAAA", "AAAAAA", "CCCCCC"])
    monkeypatch.setattr(reservations, "new_pickup_code", lambda: next(codes))
    first, second = reserve(store, product), reserve(store, product)
    assert (first.pickup_code, second.pickup_code) == ("AAAAAA", "CCCCCC")


def test_a_reservation_for_a_merged_customer_belongs_to_the_survivor():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 1)
    winner, loser = CustomerFactory(), CustomerFactory()
    merge_customers(winner=winner, loser=loser, reason="same person")
    loser.refresh_from_db()
    rsv = reserve(store, product, customer=loser)
    assert rsv.customer_id == winner.pk


def test_merging_customers_moves_reservations_and_counts_them():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 2)
    winner, loser = CustomerFactory(), CustomerFactory()
    reserve(store, product, customer=loser)
    merge = merge_customers(winner=winner, loser=loser, reason="same person")
    assert merge.moved["reservations"] == 1
    assert Reservation.objects.get().customer_id == winner.pk


# --- emails -------------------------------------------------------------------------------------------


def test_a_pickup_mails_the_customer_once_with_the_code(django_capture_on_commit_callbacks):
    store, product = StoreFactory(name="渋谷店"), ProductFactory()
    stock(store, product, 1)
    with django_capture_on_commit_callbacks(execute=True):
        rsv = reserve(store, product, kind="pickup")
    assert len(mail.outbox) == 1
    assert rsv.pickup_code in mail.outbox[0].body
    assert "渋谷店" in mail.outbox[0].subject
    from inventory.services import send_pickup_ready_mail

    assert send_pickup_ready_mail(reservation_id=rsv.pk) is False
    assert len(mail.outbox) == 1


def test_a_hold_sends_no_ready_mail(django_capture_on_commit_callbacks):
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 1)
    with django_capture_on_commit_callbacks(execute=True):
        reserve(store, product, kind="hold")
    assert mail.outbox == []


# --- orders ----------------------------------------------------------------------------------------------


def test_an_ec_order_takes_stock_from_the_warehouse():
    warehouse, product = WarehouseFactory(), ProductFactory()
    stock(warehouse, product, 5)
    o = order(store=warehouse, lines=[(product, 2)], channel="ec")
    assert level(warehouse, product).on_hand == 3
    assert o.fulfilled_from_id is None
    assert StockMovement.objects.get(kind="sale").reference == o.public_id


def test_an_ec_order_the_warehouse_cannot_fill_ships_from_a_store_in_the_customers_prefecture():
    warehouse = WarehouseFactory()
    a, b = ProductFactory(), ProductFactory()
    tokyo = StoreFactory(prefecture="東京都")
    osaka = StoreFactory(prefecture="大阪府")
    incomplete = StoreFactory(prefecture="大阪府")
    stock(warehouse, a, 5)  # the warehouse lacks b
    for store, qa, qb in [(tokyo, 2, 1), (osaka, 9, 9), (incomplete, 50, 0)]:
        stock(store, a, qa)
        if qb:
            stock(store, b, qb)
    customer = CustomerFactory(prefecture="大阪府")
    o = order(store=warehouse, lines=[(a, 1), (b, 1)], channel="ec", customer=customer)
    o.refresh_from_db()
    assert o.fulfilled_from_id == osaka.pk
    assert (level(osaka, a).on_hand, level(osaka, b).on_hand) == (8, 8)
    assert level(warehouse, a).on_hand == 5  # nothing taken from the warehouse
    other = order(store=warehouse, lines=[(b, 1)], channel="app", customer=CustomerFactory(prefecture="北海道"))
    other.refresh_from_db()
    assert other.fulfilled_from_id == osaka.pk  # no store in 北海道: the most stock wins


def test_an_ec_order_nobody_can_fill_is_refused_and_nothing_is_written():
    warehouse, product = WarehouseFactory(), ProductFactory()
    store = StoreFactory()
    stock(warehouse, product, 1)
    stock(store, product, 1)
    reserve(store, product, 1)  # the store's unit is held for someone
    with pytest.raises(OutOfStock) as err:
        order(store=warehouse, lines=[(product, 2)], channel="ec")
    assert "lines.0.quantity" in err.value.errors
    assert Order.objects.count() == 0
    assert level(warehouse, product).on_hand == 1
    assert StockMovement.objects.filter(kind="sale").count() == 0


def test_a_store_sale_beyond_the_counts_is_recorded_with_a_discrepancy():
    store, product = StoreFactory(), ProductFactory()
    stock(store, product, 3)
    reserve(store, product, 1)
    o = order(store=store, lines=[(product, 4)])
    lvl = level(store, product)
    assert (lvl.on_hand, lvl.reserved) == (1, 1)  # the reserved unit stays for its customer
    d = Discrepancy.objects.get()
    assert (d.quantity, d.source, d.reference, d.status) == (2, "sale", o.public_id, "open")
    assert stock_mismatches() == []


def test_a_return_puts_stock_back_where_the_order_shipped_from():
    warehouse, store, product = WarehouseFactory(), StoreFactory(), ProductFactory()
    stock(store, product, 3)
    o = order(store=warehouse, lines=[(product, 2)], channel="ec")
    o.refresh_from_db()
    record_return(order=o, lines=[{"sku": product.sku, "quantity": 1}])
    assert level(store, product).on_hand == 2
    assert level(warehouse, product) is None or level(warehouse, product).on_hand == 0
    assert StockMovement.objects.filter(kind="return", store=store).count() == 1


# --- transfers --------------------------------------------------------------------------------------------


def test_a_transfer_leaves_one_store_and_arrives_at_the_other_once():
    a, b, product = StoreFactory(), StoreFactory(), ProductFactory()
    stock(a, product, 5)
    transfer = ship_transfer(from_store=a, to_store=b, product=product, quantity=2)
    assert transfer.status == "in_transit"
    assert level(a, product).on_hand == 3
    assert level(b, product) is None or level(b, product).on_hand == 0
    receive_transfer(transfer=transfer)
    receive_transfer(transfer=transfer)
    assert level(b, product).on_hand == 2
    assert Transfer.objects.get().status == "received"
    assert stock_mismatches() == []


def test_a_transfer_of_more_than_available_or_to_itself_is_refused():
    a, b, product = StoreFactory(), StoreFactory(), ProductFactory()
    stock(a, product, 1)
    with pytest.raises(OutOfStock):
        ship_transfer(from_store=a, to_store=b, product=product, quantity=2)
    with pytest.raises(ValidationError):
        ship_transfer(from_store=a, to_store=a, product=product, quantity=1)
    with pytest.raises(ValidationError):
        ship_transfer(from_store=a, to_store=b, product=product, quantity=0)
    assert Transfer.objects.count() == 0
    assert level(a, product).on_hand == 1


# --- stock sync ---------------------------------------------------------------------------------------------


def test_a_count_sync_applies_valid_rows_as_count_corrections_and_reports_bad_rows():
    store = StoreFactory()
    a, b, c = ProductFactory(sku="A"), ProductFactory(sku="B"), ProductFactory(sku="C")
    stock(store, a, 5)
    stock(store, c, 2)
    reserve(store, c, 2)
    counts = [
        {"sku": "A", "on_hand": 3},
        {"sku": "B", "on_hand": 7},
        {"sku": "NOPE", "on_hand": 1},
        {"sku": "A", "on_hand": 9},
        {"sku": "B", "on_hand": -1},
        {"sku": "C", "on_hand": 1},
        "junk",
        {"sku": "A", "on_hand": True},
    ]
    batch, created = sync_stock_counts(store=store, counts=counts, batch_key="wms-1")
    assert created
    assert (batch.applied, batch.changed) == (2, 2)
    assert batch.errors == [
        {"row": 2, "sku": "NOPE", "code": "unknown_sku"},
        {"row": 3, "sku": "A", "code": "duplicate_sku"},
        {"row": 4, "sku": "B", "code": "invalid_on_hand"},
        {"row": 5, "sku": "C", "code": "below_reserved"},
        {"row": 6, "sku": None, "code": "invalid_row"},
        {"row": 7, "sku": "A", "code": "invalid_on_hand"},
    ]
    assert (level(store, a).on_hand, level(store, b).on_hand, level(store, c).on_hand) == (3, 7, 2)
    assert StockMovement.objects.filter(kind="count_correction").count() == 2
    assert Discrepancy.objects.get(source="count").quantity == 1
    assert stock_mismatches() == []


def test_the_same_batch_key_is_applied_once_and_other_counts_under_it_conflict():
    store = StoreFactory()
    ProductFactory(sku="A")
    counts = [{"sku": "A", "on_hand": 4}]
    first, _ = sync_stock_counts(store=store, counts=counts, batch_key="k")
    StockLevel.objects.filter(store=store).update(on_hand=4)  # unchanged by the replay below
    again, created = sync_stock_counts(store=store, counts=counts, batch_key="k")
    assert (created, again.pk) == (False, first.pk)
    assert StockMovement.objects.filter(kind="count_correction").count() == 1
    with pytest.raises(SyncBatchConflict):
        sync_stock_counts(store=store, counts=[{"sku": "A", "on_hand": 5}], batch_key="k")
    assert StockSyncBatch.objects.count() == 1


def test_a_sync_of_more_than_ten_thousand_rows_is_refused():
    store = StoreFactory()
    with pytest.raises(ValidationError):
        sync_stock_counts(store=store, counts=[{"sku": "A", "on_hand": 1}] * 10_001)
    assert StockSyncBatch.objects.count() == 0
