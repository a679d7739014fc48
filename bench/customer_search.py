"""Bench b: the customer search box at scale, through the API (GET /api/v1/customers/?q=...) with an
API key holding customers:read, against the bare SQL of the same search (the query the ORM sends,
taken from the queryset and checked against the one the API request actually ran), in one run.

Search values are drawn from the data: phone numbers typed as staff type them (090-1234-5678),
member numbers, emails, and the first two or three kana of a family name typed in katakana and
in hiragana.
"""

import random
import time

import psycopg
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bench.common import environment_line, median, percentile, raw_connection, report, table
from crm import selectors
from crm.api.pagination import DEFAULT_LIMIT
from crm.models import Customer
from crm.normalize import format_phone_national
from crm.services import create_api_key

EXACT_TARGET_MS = 30
PREFIX_TARGET_MS = 100
WARMUP = 20


def to_hiragana(katakana: str) -> str:
    return "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in katakana)


def search_values(*, requests: int, seed: int) -> dict[str, tuple[list[str], int]]:
    """{kind: (values, p99 target in ms)} from customers picked at random."""
    rng = random.Random(f"search:{seed}")
    max_id = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ids = rng.sample(range(1, max_id + 1), min(max_id, 2 * (requests + WARMUP)))  # some have no email or phone
    rows = list(Customer.objects.filter(pk__in=ids).values("phone", "member_number", "email", "family_name_kana"))
    rng.shuffle(rows)
    phones = [format_phone_national(r["phone"]) for r in rows if r["phone"]]
    emails = [r["email"] for r in rows if r["email"]]
    kana = [r["family_name_kana"][: 2 + (i % 2)] for i, r in enumerate(rows)]
    return {
        "phone, typed 090-1234-5678": (phones, EXACT_TARGET_MS),
        "member number": ([r["member_number"] for r in rows], EXACT_TARGET_MS),
        "email": (emails, EXACT_TARGET_MS),
        "kana prefix, katakana (タナ, タナカ)": (kana, PREFIX_TARGET_MS),
        "kana prefix, hiragana typed (たな, たなか)": ([to_hiragana(k) for k in kana], PREFIX_TARGET_MS),
    }


def orm_sql(query: str) -> tuple[str, tuple]:
    """The main query of GET /customers/?q=: the selector, re-ordered and cut by the cursor pagination."""
    qs = selectors.customer_search(query=query).order_by("-public_id")[: DEFAULT_LIMIT + 1]
    return qs.query.sql_with_params()


def check_same_sql(client: APIClient, query: str, raw: psycopg.Connection) -> str:
    """The API's search query, as the server received it, must be the SQL this bench times."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/customers/", {"q": query})
    assert response.status_code == 200, response.content
    sql, params = orm_sql(query)
    expected = psycopg.ClientCursor(raw).mogrify(sql, params)
    ran = [q["sql"] for q in captured.captured_queries if 'FROM "crm_customer"' in q["sql"] and "LIMIT" in q["sql"]]
    return "same" if expected in ran else "DIFFERENT"


def time_api(client: APIClient, values: list[str]) -> list[float]:
    timings = []
    for value in values:
        start = time.perf_counter()
        response = client.get("/api/v1/customers/", {"q": value})
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content
    return timings


def time_sql(raw: psycopg.Connection, values: list[str]) -> list[float]:
    # Django's psycopg 3 backend binds parameters on the client; so does this cursor.
    cursor = psycopg.ClientCursor(raw)
    timings = []
    for value in values:
        sql, params = orm_sql(value)
        start = time.perf_counter()
        cursor.execute(sql, params)
        cursor.fetchall()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def run(*, requests: int, seed: int) -> dict[str, bool]:
    _key, raw_key = create_api_key(name="bench", scopes=["customers:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    customers = Customer.objects.count()
    rows, met = [], {}
    with raw_connection() as raw:
        for kind, (values, target) in search_values(requests=requests, seed=seed).items():
            warmup, values = values[:WARMUP], values[WARMUP : WARMUP + requests]
            same = check_same_sql(client, values[0], raw)
            time_api(client, warmup)
            time_sql(raw, warmup)
            api = time_api(client, values)
            sql = time_sql(raw, values)
            api_p50, api_p99, sql_p50, sql_p99 = median(api), percentile(api, 99), median(sql), percentile(sql, 99)
            met[kind] = api_p99 <= target
            rows.append([
                kind, len(values), f"{api_p50:.1f}", f"{api_p99:.1f}", f"{sql_p50:.2f}", f"{sql_p99:.2f}",
                f"{api_p50 / sql_p50:.1f}", f"{api_p99 / sql_p99:.1f}", f"≤ {target}", "yes" if met[kind] else "NO",
                same,
            ])  # fmt: skip
    result = table(
        ["q", "requests", "API p50 ms", "API p99 ms", "SQL p50 ms", "SQL p99 ms", "API/SQL p50", "API/SQL p99",
         "target p99 ms", "met", "SQL = API's"],
        rows,
    )  # fmt: skip
    report(
        "customer_search",
        f"## Customer search at {customers:,} customers: GET /api/v1/customers/?q= vs its bare SQL\n\n"
        f"{environment_line()}\n\n{result}",
    )
    return met
