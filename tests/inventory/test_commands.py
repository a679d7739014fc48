from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from inventory.models import StockLevel, StockMovement
from inventory.selectors import stock_mismatches
from inventory.services.stock import receive_stock_lines

from .factories import ProductFactory, StoreFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def test_seed_stock_gives_every_location_an_opening_balance_once():
    warehouse, store = WarehouseFactory(), StoreFactory()
    products = [ProductFactory() for _ in range(5)]
    out = StringIO()
    call_command("seed_stock", stdout=out)
    assert StockLevel.objects.filter(store=warehouse, on_hand__gte=50).count() == len(products)
    assert set(StockLevel.objects.filter(store=store).values_list("on_hand", flat=True)) <= set(range(13))
    movements = StockMovement.objects.count()
    assert movements > len(products)
    call_command("seed_stock", stdout=StringIO())  # again: nothing received twice
    assert StockMovement.objects.count() == movements
    assert stock_mismatches() == []
    assert "Opening stock received" in out.getvalue()


def test_receiving_many_lines_refuses_a_bad_quantity_and_writes_nothing():
    store, good, bad = StoreFactory(), ProductFactory(), ProductFactory()
    with pytest.raises(ValidationError):
        receive_stock_lines(store=store, quantities={good: 5, bad: 0}, reference="delivery-1")
    assert not StockMovement.objects.exists()
    assert receive_stock_lines(store=store, quantities={good: 5}, reference="delivery-1") == 1
    assert receive_stock_lines(store=store, quantities={good: 5}, reference="delivery-1") == 0
    assert StockLevel.objects.get(store=store, product=good).on_hand == 5
