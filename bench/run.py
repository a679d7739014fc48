"""Tsunagu benchmarks (`make bench`; not tests). Each prints a table with the ratio to raw SQL
measured in the same run and keeps it in bench/results/<name>.txt.

    .venv/bin/python bench/run.py                      # both, at 1,000,000 customers
    .venv/bin/python bench/run.py --customers 100000   # a quicker run
    .venv/bin/python bench/run.py search               # search only (seeds first if needed)

The database is BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/tsunagu_bench),
created if missing and migrated. Its customers are replaced by the benchmark's.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import configure_environment, ensure_database


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", metavar="{seed,search}", help="benchmarks to run (default: both)")
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers to seed (default 1,000,000)")
    parser.add_argument("--requests", type=int, default=200, help="search requests per kind of query (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the data and the search values")
    args = parser.parse_args(argv)
    which = set(args.which or ["seed", "search"])
    if which - {"seed", "search"}:
        parser.error("choose benchmarks from: seed, search")

    url = configure_environment()
    if not url.startswith(("postgres://", "postgresql://")):
        parser.error("BENCH_DATABASE_URL must point at PostgreSQL")
    ensure_database(url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from bench import customer_search, seed_customers
    from crm.models import Customer
    from crm.seeding import analyze, reset_sequences, seed_stores
    from crm.seeding import seed_customers as load_customers

    if "seed" in which:
        seed_customers.run(customers=args.customers, seed=args.seed)
    if "search" in which:
        if Customer.objects.count() != args.customers:
            print(f"loading {args.customers:,} customers for the search benchmark", file=sys.stderr)
            seed_customers.empty_customers()
            load_customers(count=args.customers, seed=args.seed, stores=seed_stores())
            reset_sequences([Customer])
        analyze([Customer])
        customer_search.run(requests=args.requests, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
