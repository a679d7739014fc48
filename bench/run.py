"""Tsunagu benchmarks (`make bench`; not tests). Each prints a table with the ratio to raw SQL
measured in the same run and keeps it in bench/results/<name>.txt.

    .venv/bin/python bench/run.py                      # both, at 1,000,000 customers
    .venv/bin/python bench/run.py --customers 100000   # a quicker run
    .venv/bin/python bench/run.py search               # search only (seeds first if needed)
    .venv/bin/python bench/run.py loyalty --small      # one app's benchmark (bench/<app>.py), small scale
    .venv/bin/python bench/run.py serve                # the API served by gunicorn, driven by wrk (bench/serve.py)

Each app's benchmark is its own script, `bench/<app>.py`, also runnable alone with `--help`.

The database is BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/tsunagu_bench),
created if missing and migrated. Its customers are replaced by the benchmark's.
"""

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import prepare_database

CRM_BENCHES = ("seed", "search")
APP_BENCHES = ("loyalty", "inventory", "channels_hub", "campaigns", "line", "serve", "insights")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "which", nargs="*", metavar="{seed,search,loyalty,inventory,channels_hub,campaigns,line,serve,insights}",
        help="benchmarks to run (default: all)",
    )  # fmt: skip
    parser.add_argument("--small", action="store_true", help="app benchmarks at their small scale")
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers to seed (default 1,000,000)")
    parser.add_argument("--requests", type=int, default=200, help="search requests per kind of query (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the data and the search values")
    args = parser.parse_args(argv)
    which = set(args.which or [*CRM_BENCHES, *APP_BENCHES])
    if which - {*CRM_BENCHES, *APP_BENCHES}:
        parser.error(f"choose benchmarks from: {', '.join((*CRM_BENCHES, *APP_BENCHES))}")
    failed = 0
    if which & set(CRM_BENCHES):
        failed += run_crm_benches(which, args, parser)
    here = Path(__file__).resolve().parent
    for app in APP_BENCHES:
        if app in which:
            command = [sys.executable, str(here / f"{app}.py"), *(["--small"] if args.small else [])]
            failed += subprocess.call(command) != 0  # noqa: S603 — our own script
    return 1 if failed else 0


def run_crm_benches(which, args, parser) -> int:

    prepare_database(parser)

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
