"""The nightly expiry of lots past their date: one `expire` transaction per account and run.

On PostgreSQL this is set-based SQL, a batch of accounts per transaction: lock the batch's accounts
(pk order), then one INSERT of the transactions, one INSERT of the lot uses, one UPDATE of the lots
and one UPDATE of the balances. Elsewhere (SQLite, development) it expires account by account
through the same ledger primitives. Running it twice is harmless: a second run finds no lots with
points left that are past their date.
"""

import logging
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from crm.ids import new_public_id

from .. import conf
from ..models import PointLot
from .ledger import expire_due_lots, lock_accounts

logger = logging.getLogger(__name__)


def expire_points(*, now: datetime | None = None, batch_size: int | None = None) -> dict:
    """Expire every lot whose date has passed. Returns {"accounts", "lots", "points"}."""
    now = now or timezone.now()
    batch_size = batch_size or conf.expiry_batch_size()
    run = _expire_batch_sql if connection.vendor == "postgresql" else _expire_batch_orm
    totals = {"accounts": 0, "lots": 0, "points": 0}
    after = 0
    while True:
        ids = list(
            PointLot.objects.filter(remaining__gt=0, expires_at__lte=now, account_id__gt=after)
            .order_by("account_id")
            .values_list("account_id", flat=True)
            .distinct()[:batch_size]
        )
        if not ids:
            break
        with transaction.atomic():
            done = run(ids=ids, now=now)
        for key in totals:
            totals[key] += done[key]
        after = ids[-1]
    logger.info("points expired accounts=%(accounts)d lots=%(lots)d points=%(points)d", totals)
    return totals


def _expire_batch_orm(*, ids: list[int], now: datetime) -> dict:
    done = {"accounts": 0, "lots": 0, "points": 0}
    for account in lock_accounts(ids):
        lots = account.lots.filter(remaining__gt=0, expires_at__lte=now).count()
        txn = expire_due_lots(account=account, now=now)
        if txn is not None:
            done["accounts"] += 1
            done["lots"] += lots
            done["points"] -= txn.points
    return done


def _expire_batch_sql(*, ids: list[int], now: datetime) -> dict:
    with connection.cursor() as cursor:
        # A batch lost in a crash before its WAL reached disk is simply expired again by the next run
        # (the job is idempotent), so its commits need not wait for the flush.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute("SELECT id FROM loyalty_pointaccount WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids])
        # Read after the lock: a redemption that committed meanwhile has already taken its points.
        cursor.execute(
            "SELECT account_id, SUM(remaining)::int FROM loyalty_pointlot "
            "WHERE account_id = ANY(%s) AND remaining > 0 AND expires_at <= %s GROUP BY account_id",
            [ids, now],
        )
        due = cursor.fetchall()
        if not due:
            return {"accounts": 0, "lots": 0, "points": 0}
        accounts = [row[0] for row in due]
        points = [row[1] for row in due]
        public_ids = [new_public_id("ptx") for _ in due]
        cursor.execute(
            "INSERT INTO loyalty_pointtransaction (public_id, account_id, kind, points, channel, reference, reason, "
            "shortfall, detail, created_at) SELECT u.p, u.a, 'expire', -u.s, '', '', '', 0, '{}'::jsonb, %s "
            "FROM unnest(%s::text[], %s::bigint[], %s::int[]) AS u(p, a, s) RETURNING id, account_id",
            [now, public_ids, accounts, points],
        )
        created = cursor.fetchall()
        cursor.execute(
            "INSERT INTO loyalty_pointlotuse (transaction_id, lot_id, points) "
            "SELECT t.id, l.id, -l.remaining FROM loyalty_pointlot l "
            "JOIN unnest(%s::bigint[], %s::bigint[]) AS t(id, account_id) ON t.account_id = l.account_id "
            "WHERE l.remaining > 0 AND l.expires_at <= %s",
            [[row[0] for row in created], [row[1] for row in created], now],
        )
        lots = cursor.rowcount
        cursor.execute(
            "UPDATE loyalty_pointlot SET remaining = 0 "
            "WHERE account_id = ANY(%s) AND remaining > 0 AND expires_at <= %s",
            [accounts, now],
        )
        cursor.execute(
            "UPDATE loyalty_pointaccount a SET balance = a.balance - u.s "
            "FROM unnest(%s::bigint[], %s::int[]) AS u(a, s) WHERE a.id = u.a",
            [accounts, points],
        )
    return {"accounts": len(accounts), "lots": lots, "points": sum(points)}
