"""Daily facts: the SELECTs that turn the base tables into facts, and the refresh that stores them.

Each `*_sql(start, end)` returns one set-based SELECT over the base tables for the events between two
instants (Asia/Tokyo days, computed in the database). The nightly refresh INSERTs their rows into the
fact tables; a KPI query reads the fact tables for the days they cover and runs the very same SELECTs
for the days after (today), so stored and live figures cannot drift apart.

The live part reads recent rows by their public id, a ULID that starts with the creation time: a range
of public ids is a range scan of their unique index, where the tables have no index on created_at.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from channels_hub.models import Message, Ticket
from crm.models import Customer, Order
from loyalty.models import PointAccount, PointTransaction

from .models import CustomerChannelDay, PointsDay, TicketFact

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# A public id's time may differ from created_at by the time between making the object and saving it.
_ID_MARGIN = timedelta(minutes=1)

CUSTOMER_DAY_COLUMNS = ("day", "customer_id", "kind", "channel", "events", "spend", "home_store_id", "prefecture")
TICKET_COLUMNS = (
    "ticket_id", "day", "channel", "category", "customer_id", "home_store_id", "prefecture", "resolved", "replies",
    "first_response_seconds", "csat",
)  # fmt: skip
POINTS_COLUMNS = ("day", "channel", "home_store_id", "prefecture", "issued", "redeemed", "expired")


@contextmanager
def analytics(using: str = "default", *, work_mem: str = "64MB"):
    """A transaction for set-based reads over many rows: on PostgreSQL without JIT compilation (it
    costs more than it saves on these queries, hundreds of milliseconds each) and with room for hash
    aggregates in memory. Both settings end with the transaction."""
    with transaction.atomic(using=using):
        conn = connections[using]
        if conn.vendor == "postgresql":
            with conn.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
        yield conn


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def day_start(day: date) -> datetime:
    """The first instant of a day in the shop's time zone (Asia/Tokyo)."""
    return timezone.make_aware(datetime.combine(day, dtime.min))


def ulid_floor(prefix: str, at: datetime) -> str:
    """The smallest public id `prefix_…` made at `at` or later: ULIDs begin with 48 bits of
    milliseconds in Crockford base32, whose alphabet sorts like the numbers it encodes."""
    ms = max(0, int(at.timestamp() * 1000))
    return f"{prefix}_" + "".join(_CROCKFORD[(ms >> (45 - 5 * i)) & 31] for i in range(10))


@dataclass(frozen=True)
class Span:
    """Instants [start, end): start None means from the beginning."""

    start: datetime | None
    end: datetime

    @classmethod
    def of_days(cls, first: date | None, last: date) -> "Span":
        return cls(day_start(first) if first else None, day_start(last + timedelta(days=1)))


def _p(conn, value):
    """A datetime as the backend wants it in a raw query (SQLite: naive UTC text)."""
    return conn.ops.adapt_datetimefield_value(value)


def _day(conn, column: str) -> tuple[str, list]:
    sql, params = conn.ops.datetime_cast_date_sql(column, (), settings.TIME_ZONE)
    return sql, list(params)


def _seconds_between(conn, later: str, earlier: str) -> str:
    if conn.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))::bigint"
    return f"CAST(ROUND((julianday({later}) - julianday({earlier})) * 86400) AS INTEGER)"


def _time_filter(conn, span: Span, column: str, *, id_column: str = "", prefix: str = "") -> tuple[str, list]:
    conditions, params = [f"{column} < %s"], [_p(conn, span.end)]
    if span.start is not None:
        conditions.append(f"{column} >= %s")
        params.append(_p(conn, span.start))
    if id_column and span.start is not None:
        conditions += [f"{id_column} >= %s", f"{id_column} < %s"]
        params += [ulid_floor(prefix, span.start - _ID_MARGIN), ulid_floor(prefix, span.end + _ID_MARGIN)]
    return " AND ".join(conditions), params


# --- The SELECTs (each gives the columns of one fact table, in its order) ------------------------
def order_days_sql(conn, span: Span) -> tuple[str, list]:
    """Customers' orders per day and sales channel: count and spend (paid in money, less returns).
    Fully returned orders are not purchases; guest orders have no customer to count."""
    day, day_params = _day(conn, "o.ordered_at")
    where, params = _time_filter(conn, span, "o.ordered_at")
    sql = f"""
        SELECT day, customer_id, 'order' AS kind, channel, COUNT(*) AS events, SUM(spend) AS spend, home_store_id,
               prefecture
        FROM (
            SELECT {day} AS day, o.customer_id, o.channel, o.total - o.returned_amount AS spend,
                   c.home_store_id, c.prefecture
            FROM {table(Order)} o JOIN {table(Customer)} c ON c.id = o.customer_id
            WHERE {where} AND o.customer_id IS NOT NULL AND o.status <> %s
        ) AS x GROUP BY day, customer_id, channel, home_store_id, prefecture
    """  # noqa: S608 - table names come from the models; values are parameters
    return sql, [*day_params, *params, Order.Status.RETURNED]


def contact_days_sql(conn, span: Span) -> tuple[str, list]:
    """Customers' inbound messages per day and contact channel (when received)."""
    day, day_params = _day(conn, "m.created_at")
    where, params = _time_filter(conn, span, "m.created_at", id_column="m.public_id", prefix="msg")
    sql = f"""
        SELECT day, customer_id, 'contact' AS kind, channel, COUNT(*) AS events, 0 AS spend, home_store_id,
               prefecture
        FROM (
            SELECT {day} AS day, t.customer_id, m.channel, c.home_store_id, c.prefecture
            FROM {table(Message)} m
            JOIN {table(Ticket)} t ON t.id = m.ticket_id
            JOIN {table(Customer)} c ON c.id = t.customer_id
            WHERE {where} AND m.direction = %s
        ) AS x GROUP BY day, customer_id, channel, home_store_id, prefecture
    """  # noqa: S608
    return sql, [*day_params, *params, Message.Direction.IN]


def ticket_facts_sql(conn, span: Span) -> tuple[str, list]:
    """Tickets opened in the span (those merged into another are counted there), with their outcome:
    resolved or closed, how many replies, seconds to the first response, CSAT."""
    day, day_params = _day(conn, "t.created_at")
    where, params = _time_filter(conn, span, "t.created_at", id_column="t.public_id", prefix="tkt")
    first_response = _seconds_between(conn, "t.first_response_at", "t.created_at")
    sql = f"""
        SELECT t.id AS ticket_id, {day} AS day, t.first_channel AS channel, t.category AS category,
               t.customer_id AS customer_id, c.home_store_id AS home_store_id,
               COALESCE(c.prefecture, '') AS prefecture, t.status IN (%s, %s) AS resolved,
               (SELECT COUNT(*) FROM {table(Message)} m WHERE m.ticket_id = t.id AND m.direction = %s) AS replies,
               {first_response} AS first_response_seconds, t.csat_score AS csat
        FROM {table(Ticket)} t LEFT JOIN {table(Customer)} c ON c.id = t.customer_id
        WHERE {where} AND t.merged_into_id IS NULL
    """  # noqa: S608
    statuses = [Ticket.Status.RESOLVED, Ticket.Status.CLOSED]
    return sql, [*day_params, *statuses, Message.Direction.OUT, *params]


def points_days_sql(conn, span: Span) -> tuple[str, list]:
    """Points earned, redeemed and expired per day, channel and customer group (positive numbers)."""
    day, day_params = _day(conn, "p.created_at")
    where, params = _time_filter(conn, span, "p.created_at", id_column="p.public_id", prefix="ptx")
    sql = f"""
        SELECT day, channel, home_store_id, prefecture, SUM(issued) AS issued, SUM(redeemed) AS redeemed,
               SUM(expired) AS expired
        FROM (
            SELECT {day} AS day, p.channel, c.home_store_id, c.prefecture,
                   CASE WHEN p.kind = 'earn' THEN p.points ELSE 0 END AS issued,
                   CASE WHEN p.kind = 'redeem' THEN -p.points ELSE 0 END AS redeemed,
                   CASE WHEN p.kind = 'expire' THEN -p.points ELSE 0 END AS expired
            FROM {table(PointTransaction)} p
            JOIN {table(PointAccount)} a ON a.id = p.account_id
            JOIN {table(Customer)} c ON c.id = a.customer_id
            WHERE {where} AND p.kind IN ('earn', 'redeem', 'expire')
        ) AS x GROUP BY day, channel, home_store_id, prefecture
    """  # noqa: S608
    return sql, [*day_params, *params]


FACTS = (
    # (fact model, columns, SELECTs that fill it)
    (CustomerChannelDay, CUSTOMER_DAY_COLUMNS, (order_days_sql, contact_days_sql)),
    (TicketFact, TICKET_COLUMNS, (ticket_facts_sql,)),
    (PointsDay, POINTS_COLUMNS, (points_days_sql,)),
)
