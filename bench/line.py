"""LINE benchmark (not a test): how fast the webhook answers LINE, and how fast a LINE campaign goes out,
against the fake LINE API on loopback, each beside the raw SQL of the same writes in the same run.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/tsunagu_line_bench .venv/bin/python bench/line.py
    .venv/bin/python bench/line.py --requests 200 --recipients 2000      # quicker

Webhook: signed requests of one text-message event each through Django's test client; the answer
covers signature check, validation, storing the event and queueing its processing (the queue is a
no-op here: in production a Celery worker does the processing). Raw SQL: the same INSERT by psycopg.
Send: one batch task's code path (claim + multicast of 500 per request) for identical messages and
(push, one request each) for personalised ones, no pacing; raw SQL: the claim UPDATEs alone.
"""

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import environment_line, median, percentile, prepare_database, raw_connection, report, table


def bench_webhook(requests: int, fake, account) -> list[list]:
    from django.test import Client

    from channels_hub.line import tasks
    from channels_hub.line.fake import sign

    tasks.process_line_event.delay = lambda pk: None  # measure the answer, not the worker
    client = Client()
    timings = []
    for i in range(requests):
        event = fake._base_event("message", f"U{uuid.uuid4().hex}")
        event["message"] = {"type": "text", "id": str(10**15 + i), "text": "在庫はありますか"}
        body = json.dumps({"destination": "Ubot", "events": [event]}).encode()
        signature = sign(body, "bench-secret")
        start = time.perf_counter()
        response = client.post(f"/hooks/line/{account.name}/", body, content_type="application/json",
                               HTTP_X_LINE_SIGNATURE=signature)  # fmt: skip
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content
    raw = []
    with raw_connection() as conn:
        for _i in range(requests):
            start = time.perf_counter()
            conn.execute(
                "INSERT INTO channels_hub_linewebhookevent (account_id, webhook_event_id, kind, line_user_id, "
                "occurred_at, redelivery, payload, reply_token, reply_token_used, state, error, received_at) "
                "VALUES (%s, %s, 'message', %s, now(), false, %s, 'r', false, 'pending', '', now())",
                [account.pk, uuid.uuid4().hex[:26], f"U{uuid.uuid4().hex}", json.dumps({"type": "message"})],
            )
            raw.append((time.perf_counter() - start) * 1000)
    return [
        ["webhook answer (verify, validate, store, queue)", f"{median(timings):.2f}", f"{percentile(timings, 99):.2f}",
         f"{median(raw):.2f}", f"{percentile(raw, 99):.2f}", f"{median(timings) / median(raw):.1f}"],
    ]  # fmt: skip


def _campaign(account, recipients: int, text: str):
    from campaigns.models import Campaign, CampaignRecipient, Segment
    from channels_hub.line.models import LineFollower
    from crm.models import Customer

    segment = Segment.objects.create(name="bench", rules={"field": "prefecture", "op": "eq", "value": "沖縄県"})
    campaign = Campaign.objects.create(
        name="bench LINE", segment=segment, subject="s", from_email="Shop <n@shop.example>", body_text="b",
        channel="line", line_account=account, line_text=text, throttle=0, status="sending",
    )  # fmt: skip
    customers = Customer.objects.bulk_create([Customer(family_name="ベンチ") for _ in range(recipients)])
    users = [f"U{uuid.uuid4().hex}" for _ in customers]
    LineFollower.objects.bulk_create([LineFollower(account=account, line_user_id=u, follows=True) for u in users])
    rows = CampaignRecipient.objects.bulk_create([
        CampaignRecipient(campaign=campaign, customer=c, channel="line", line_user_id=u)
        for c, u in zip(customers, users, strict=True)
    ])  # fmt: skip
    return campaign, [r.pk for r in rows]


def bench_send(recipients: int, account, fake) -> list[list]:
    from django.db import connection

    from campaigns.services.line_sending import send_line_batch

    rows = []
    for label, text in (("identical message → multicast", "冬のセール開催中"),
                        ("personalised message → push", "{{ customer.family_name }}様 冬のセール")):  # fmt: skip
        count = recipients if "multicast" in label else max(recipients // 5, 100)
        campaign, ids = _campaign(account, count, text)
        start = time.perf_counter()
        for i in range(0, len(ids), 500):
            send_line_batch(campaign_id=campaign.pk, recipient_ids=ids[i : i + 500])
        seconds = time.perf_counter() - start
        assert campaign.recipients.filter(state="sent").count() == count
        # raw SQL: the claims alone, one transaction per 500 rows as the multicast path does
        _raw_campaign, ids2 = _campaign(account, count, text)
        start = time.perf_counter()
        with connection.cursor() as cursor:
            for i in range(0, len(ids2), 500):
                with connection.constraint_checks_disabled():
                    cursor.execute("BEGIN")
                    cursor.execute(
                        "UPDATE campaigns_campaignrecipient SET state='sent', sent_at=now(), attempts=attempts+1 "
                        "WHERE id = ANY(%s) AND state='pending'", [ids2[i : i + 500]],
                    )  # fmt: skip
                    cursor.execute("COMMIT")
        raw_seconds = time.perf_counter() - start
        rows.append([label, f"{count:,}", f"{count / seconds:,.0f}", f"{count / raw_seconds:,.0f}",
                     f"{seconds / raw_seconds:.1f}"])  # fmt: skip
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="webhook requests (default 500)")
    parser.add_argument("--recipients", type=int, default=5000, help="LINE campaign recipients (default 5,000)")
    parser.add_argument("--small", action="store_true", help="200 requests, 2,000 recipients")
    args = parser.parse_args(argv)
    if args.small:
        args.requests, args.recipients = 200, 2000
    prepare_database(parser)
    from django.conf import settings

    from channels_hub.line.fake import FakeLine
    from channels_hub.line.services import configure_line_account

    settings.CAMPAIGNS_LINE_REQUESTS_PER_SECOND = 0  # no pacing: measure our side
    fake = FakeLine(access_token="bench-token").start()  # noqa: S106  the fake's own token
    try:
        account, _created = configure_line_account(
            name=f"bench-{uuid.uuid4().hex[:8]}", channel_secret="bench-secret", access_token="bench-token",  # noqa: S106
            api_base=fake.base_url,
        )  # fmt: skip
        webhook = bench_webhook(args.requests, fake, account)
        send = bench_send(args.recipients, account, fake)
    finally:
        fake.stop()
    text = "\n".join([
        "## LINE — webhook and campaign send against the fake LINE API on loopback",
        environment_line() + " (machine shared with other engineers' work while measuring)",
        "",
        f"Webhook: {args.requests} signed requests of one text event each; raw SQL: the same INSERT by psycopg.",
        "",
        table(["what", "p50 ms", "p99 ms", "raw SQL p50 ms", "raw SQL p99 ms", "p50 ÷ SQL"], webhook),
        "",
        "Send: the batch task's code, batches of 500, no pacing; raw SQL: the claim UPDATEs alone.",
        "",
        table(["campaign", "recipients", "messages/s", "raw SQL rows/s", "time ÷ SQL"], send),
    ])  # fmt: skip
    report("line", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
