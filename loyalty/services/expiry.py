"""The nightly expiry of lots past their date: one `expire` transaction per account and run.

On PostgreSQL this is set-based SQL, a batch of accounts per transaction: lock the batch's accounts
(pk order), then one statement writes the transactions, the lot uses, the emptied lots and the
balances. Elsewhere (SQLite, development) it expires account by account through the same ledger
primitives. Running it twice is harmless: a second run finds no lots with
points left that are past their date.
"""

import base64
import logging
import secrets
import time
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

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


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_FROM_RFC4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _CROCKFORD)


def new_transaction_ids(count: int) -> list[str]:
    """`count` public ids of the same form as crm.ids.new_public_id("ptx") (a ULID: 48-bit time in
    milliseconds, 80 random bits, Crockford base32), made in one go: a million take under a second
    instead of several."""
    ms = int(time.time() * 1000)
    head = "ptx_" + "".join(_CROCKFORD[(ms >> (45 - 5 * i)) & 31] for i in range(10))
    tails = base64.b32encode(secrets.token_bytes(10 * count)).decode().translate(_FROM_RFC4648)
    return [head + tails[i : i + 16] for i in range(0, 16 * count, 16)]


# After the accounts are locked, one statement reads what is due and writes it all: the expire
# transactions, the lot uses, the emptied lots and the balances. Every part reads the lots with the
# same snapshot, taken after the lock, so a redemption that committed meanwhile is accounted for.
# The id range (ids are sorted) keeps each batch to a range scan of the open-lots index whatever the
# table's size; the id list keeps it to the accounts this batch has locked.
_EXPIRE_BATCH = """
WITH due AS (
    SELECT account_id, SUM(remaining)::int AS points FROM loyalty_pointlot
    WHERE account_id BETWEEN %(low)s AND %(high)s AND account_id = ANY(%(ids)s)
        AND remaining > 0 AND expires_at <= %(now)s
    GROUP BY account_id
), txn AS (
    INSERT INTO loyalty_pointtransaction
        (public_id, account_id, kind, points, channel, reference, reason, shortfall, detail, created_at)
    SELECT p.public_id, due.account_id, 'expire', -due.points, '', '', '', 0, '{}'::jsonb, %(now)s
    FROM due JOIN unnest(%(ids)s::bigint[], %(public_ids)s::text[]) AS p(account_id, public_id)
        ON p.account_id = due.account_id
    RETURNING id, account_id, -points AS points
), uses AS (
    INSERT INTO loyalty_pointlotuse (transaction_id, lot_id, points)
    SELECT txn.id, lot.id, -lot.remaining FROM txn JOIN loyalty_pointlot lot ON lot.account_id = txn.account_id
    WHERE lot.account_id BETWEEN %(low)s AND %(high)s AND lot.account_id = ANY(%(ids)s)
        AND lot.remaining > 0 AND lot.expires_at <= %(now)s
    RETURNING lot_id
), emptied AS (
    UPDATE loyalty_pointlot SET remaining = 0 FROM uses WHERE loyalty_pointlot.id = uses.lot_id
), balances AS (
    UPDATE loyalty_pointaccount SET balance = balance - txn.points FROM txn
    WHERE loyalty_pointaccount.id = txn.account_id
)
SELECT (SELECT COUNT(*) FROM txn), (SELECT COUNT(*) FROM uses), (SELECT COALESCE(SUM(points), 0) FROM txn)
"""


def _expire_batch_sql(*, ids: list[int], now: datetime) -> dict:
    with connection.cursor() as cursor:
        # A batch lost in a crash before its WAL reached disk is simply expired again by the next run
        # (the job is idempotent), so its commits need not wait for the flush.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute("SELECT id FROM loyalty_pointaccount WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids])
        cursor.execute(
            _EXPIRE_BATCH,
            {"ids": ids, "low": ids[0], "high": ids[-1], "now": now, "public_ids": new_transaction_ids(len(ids))},
        )
        accounts, lots, points = cursor.fetchone()
    return {"accounts": accounts, "lots": lots, "points": int(points)}
