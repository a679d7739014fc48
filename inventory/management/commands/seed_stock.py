"""Demo stock: an opening balance for every active product at every location that has none yet.

`make run` calls it after seed_demo, so the EC site can take orders and stores show stock. Goes
through inventory's receipt service (ledger + levels), once per location, with a progress bar;
running it again receives nothing twice.
"""

import random

from django.core.management.base import BaseCommand
from tqdm import tqdm

from crm.models import Product, Store
from inventory.models import StockLevel
from inventory.services.stock import receive_stock_lines


class Command(BaseCommand):
    help = "Give every location an opening stock of every product it does not stock yet (demo data)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, seed, **options):
        rng = random.Random(seed)
        products = list(Product.objects.filter(active=True).order_by("pk"))
        stores = list(Store.objects.filter(active=True).order_by("pk"))
        received = 0
        for store in tqdm(stores, desc="opening stock", unit="location", disable=not products):
            stocked = set(StockLevel.objects.filter(store=store).values_list("product_id", flat=True))
            warehouse = store.kind == Store.Kind.WAREHOUSE
            quantities = {
                p: rng.randint(50, 200) if warehouse else rng.randint(0, 12) for p in products if p.pk not in stocked
            }
            quantities = {p: q for p, q in quantities.items() if q > 0}
            if quantities:
                received += receive_stock_lines(store=store, quantities=quantities, reference="demo-opening-stock")
        self.stdout.write(f"Opening stock received: {received:,} lines at {len(stores)} locations.")
