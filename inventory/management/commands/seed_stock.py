"""Demo stock: an opening balance for every active product at every location that has none yet.

`manage.py seed_demo` (what `make run` runs) does this as inventory's demo step; this command does it
alone. Goes through inventory's receipt service (ledger + levels); quantities depend only on the seed,
the location and the product, and each receipt line is keyed, so running it again receives nothing.
"""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from crm.models import Store
from inventory.demo import receive_opening_stock


class Command(BaseCommand):
    help = "Give every location an opening stock of every product it does not stock yet (demo data)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, seed, **options):
        with tqdm(total=Store.objects.filter(active=True).count(), desc="opening stock", unit="location") as bar:
            received = receive_opening_stock(seed=seed, progress=bar.update)
        self.stdout.write(f"Opening stock received: {received:,} lines.")
