"""Fill the database with a retailer's worth of demo data: stores (and the EC warehouse EC-WH), about
200 products, customers with Japanese names, kana, phones, consent and channel accounts (a few
registered twice, for the duplicates page), and orders from stores, the EC site and the app over
the last two years.

This is demo and benchmark data, written in bulk (COPY on PostgreSQL, batched INSERTs on SQLite)
and not through create_customer / record_order: no signals are sent, so seeded orders earn no
points and move no stock. The rows are otherwise what the services write (normalised kana and
search keys, E.164 phones, ULID public ids, Luhn-checked member numbers, consistent totals).

    manage.py seed_demo                         # 2,000 customers, 10,000 orders
    manage.py seed_demo --if-empty              # what `make run` does: only on an empty database
    manage.py seed_demo --customers 1000000 --orders 0 --seed 7
"""

from django.core.management.base import BaseCommand, CommandError

from crm.models import Customer
from crm.seeding import seed_demo_data


class Command(BaseCommand):
    help = "Seed demo data (stores, products, customers, orders) in bulk; deterministic with --seed."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000, help="customers to add (default 2,000)")
        parser.add_argument("--orders", type=int, default=10000, help="orders to add (default 10,000)")
        parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same data")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if there are customers already")

    def handle(self, *args, customers, orders, seed, if_empty, **options):
        if customers < 0 or orders < 0:
            raise CommandError("--customers and --orders must be zero or more.")
        if if_empty and Customer.objects.exists():
            self.stdout.write("Customers exist already; nothing seeded.")
            return
        result = seed_demo_data(customers=customers, orders=orders, seed=seed, quiet=options["verbosity"] == 0)
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {result.customers:,} customers ({result.identities:,} channel accounts), "
                f"{result.orders:,} orders; {result.stores} stores, {result.products} products in the catalogue."
            )
        )
