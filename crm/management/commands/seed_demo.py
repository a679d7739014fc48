"""The demo `make run` serves: on an empty database, a retailer's history in bulk (stores and the EC
warehouse EC-WH, about 200 products, customers with Japanese names, kana, phones, consent and channel
accounts, a few registered twice for the duplicates page, and two years of orders from stores, the EC
site and the app: crm.seeding); then each app's demo step (crm.demo), written through the same
services a store uses: staff, points earned, spent, expired and tiers, opening stock, this week's
orders through the order pipeline, holds, pickups and try-ons, contacts over several channels with
replies and survey answers, segments and a sent campaign with a hold-out and the purchases after it,
and the KPI facts and recommendations.

Each step skips what exists already, so running it again changes nothing.

    manage.py seed_demo                         # 2,000 customers, 10,000 orders, then the apps' steps
    manage.py seed_demo --customers 1000000 --orders 0 --seed 7 --history-only   # benchmark data
"""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from crm.demo import build_demo
from crm.models import Customer
from crm.seeding import seed_demo_data


class Command(BaseCommand):
    help = "Seed the demo: bulk history on an empty database, then every app's demo step; a rerun changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000, help="customers to add (default 2,000)")
        parser.add_argument("--orders", type=int, default=10000, help="orders to add (default 10,000)")
        parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same data")
        parser.add_argument(
            "--if-empty", action="store_true", help="(kept for old scripts) the history is only seeded when empty"
        )
        parser.add_argument(
            "--with-admin", action="store_true",
            help="first make sure the demo admin exists and print its login (ensure_demo_admin), as `make run` does",
        )  # fmt: skip
        parser.add_argument(
            "--history-only", action="store_true",
            help="add the bulk history only (even to a non-empty database: benchmarks), without the apps' steps",
        )  # fmt: skip

    def handle(self, *args, customers, orders, seed, history_only, with_admin, **options):
        if customers < 0 or orders < 0:
            raise CommandError("--customers and --orders must be zero or more.")
        if with_admin:  # in this process: one Django start-up less for `make run`
            call_command("ensure_demo_admin", stdout=self.stdout)
        quiet = options["verbosity"] == 0
        start = time.perf_counter()
        if history_only:
            result = seed_demo_data(customers=customers, orders=orders, seed=seed, quiet=quiet)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Seeded {result.customers:,} customers ({result.identities:,} channel accounts), "
                    f"{result.orders:,} orders; {result.stores} stores, {result.products} products in the catalogue."
                )
            )
            return
        if Customer.objects.exists():
            self.stdout.write("Customers exist already: the history is kept; completing the demo's other parts.")
        result = build_demo(customers=customers, orders=orders, seed=seed, quiet=quiet, write=self.stdout.write)
        if not result.seeded and not result.lines:
            self.stdout.write("The demo is complete; nothing changed.")
        self.stdout.write(self.style.SUCCESS(f"Demo ready in {time.perf_counter() - start:.1f} s."))
