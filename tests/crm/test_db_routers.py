"""The read replica (DATABASE_REPLICA_URL), with two real PostgreSQL databases: the replica is a
snapshot of the primary taken mid-test (CREATE DATABASE … TEMPLATE), opened read-only, and the primary
moves on after it. Reports and segment counts must show the snapshot's figures; every write must land
on the primary (a write sent to the read-only replica would fail)."""

import warnings

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.db.utils import load_backend
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import CampaignRecipient, Segment
from crm.db_routers import ReplicaRouter, reporting_db
from crm.models import Customer, Order
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory

TOKYO = {
    "all": [
        {"field": "prefecture", "op": "eq", "value": "東京都"},
        {"field": "email_opt_in", "op": "eq", "value": True},
    ]
}


def test_writes_and_migrations_go_to_the_primary_only():
    router = ReplicaRouter()
    for model in (Customer, Order, Segment, CampaignRecipient):
        assert router.db_for_write(model) == "default"
        assert router.db_for_read(model) is None  # ordinary reads see their own writes on the primary
    assert router.allow_migrate("default", "crm") is True
    assert router.allow_migrate("replica", "crm") is False


@pytest.fixture
def replica(settings):
    """Call it to take the replica's snapshot of the primary as it is now; it is then configured as
    DATABASE_REPLICA_URL configures it (settings.DATABASES["replica"] + the router), read-only."""
    primary = connection.settings_dict
    name = f"{primary['NAME']}_replica"[:63]
    admin = f"host={primary['HOST'] or '127.0.0.1'} port={primary['PORT'] or 5432} user={primary['USER'] or 'postgres'}"

    def snapshot():
        connections.close_all()  # a template database must have no open connections
        with psycopg.connect(f"{admin} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{primary["NAME"]}"')
        options = {**primary.get("OPTIONS", {}), "options": "-c default_transaction_read_only=on"}
        config = {**primary, "NAME": name, "OPTIONS": options, "TEST": {"MIRROR": None}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "overriding DATABASES": the connection is made by hand below
            settings.DATABASES = {**django_settings.DATABASES, "replica": config}
        settings.DATABASE_ROUTERS = ["crm.db_routers.ReplicaRouter"]
        # made by hand rather than from connections.settings, so the test framework lets it through
        connections["replica"] = load_backend(config["ENGINE"]).DatabaseWrapper(config, "replica")
        assert reporting_db() == "replica"
        return connections["replica"]

    yield snapshot
    try:
        replica_connection = connections["replica"]
    except Exception:  # never snapshotted
        replica_connection = None
    if replica_connection is not None:
        replica_connection.close()
        del connections["replica"]
    with psycopg.connect(f"{admin} dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def order(client, customer_id, ref, store="SHIBUYA", sku="COAT-1"):
    body = {
        "source": "pos", "external_ref": ref, "channel": "store", "store": store, "customer": customer_id,
        "ordered_at": timezone.now().isoformat(), "lines": [{"sku": sku, "quantity": 1, "unit_price": 10000}],
    }  # fmt: skip
    response = client.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_reports_and_segment_counts_read_the_replica_and_writes_never_go_there(api, replica):
    StoreFactory(code="SHIBUYA"), ProductFactory(sku="COAT-1")
    client = api("orders:write", "campaigns:read", "campaigns:write")
    first = CustomerFactory.create_batch(3)
    segment = client.post("/api/v1/segments/", {"name": "東京", "rules": TOKYO}, format="json").json()["id"]
    campaign = client.post("/api/v1/campaigns/", {
        "name": "冬", "segment": segment, "subject": "冬のセール", "from_email": "Shop <news@shop.example>",
        "body_text": "{{ unsubscribe_url }}",
    }, format="json").json()["id"]  # fmt: skip
    assert client.post(f"/api/v1/campaigns/{campaign}/send/").status_code == 202  # eager: sent at once
    order(client, first[0].public_id, "R-1")  # one recipient buys afterwards

    replica_connection = replica()  # ---- the replica stops here; the primary moves on ----
    more = CustomerFactory.create_batch(2)
    order(client, first[1].public_id, "R-2")
    order(client, more[0].public_id, "R-3")
    assert Customer.objects.filter(prefecture="東京都").count() == 5  # the primary has them all

    with CaptureQueriesContext(replica_connection) as on_replica:
        preview = client.post("/api/v1/segments/preview/", {"rules": TOKYO}, format="json").json()
        detail = client.get(f"/api/v1/segments/{segment}/").json()
        report = client.get(f"/api/v1/campaigns/{campaign}/").json()
    assert preview["count"] == 3 and detail["count"] == 3  # the replica's figures, not the primary's 5
    assert report["counts"]["sent"] == 3
    assert report["attributed"]["orders"] == 1  # R-2 reached the primary after the snapshot
    assert on_replica.captured_queries, "nothing was read from the replica"
    assert all(q["sql"].lstrip().upper().startswith(("SELECT", "WITH")) for q in on_replica.captured_queries)

    # writes while the replica is configured: all on the primary, none on the (read-only) replica
    with CaptureQueriesContext(replica_connection) as on_replica:
        order(client, more[1].public_id, "R-4")
        new_segment = client.post("/api/v1/segments/", {"name": "東京2", "rules": TOKYO}, format="json")
        assert new_segment.status_code == 201
        second = client.post("/api/v1/campaigns/", {
            "name": "春", "segment": new_segment.json()["id"], "subject": "春",
            "from_email": "Shop <news@shop.example>", "body_text": "{{ unsubscribe_url }}",
        }, format="json").json()["id"]  # fmt: skip
        assert client.post(f"/api/v1/campaigns/{second}/send/").status_code == 202
    assert not [q for q in on_replica.captured_queries if not q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]
    assert Order.objects.using("default").filter(external_ref="R-4").exists()
    assert not Order.objects.using("replica").filter(external_ref__in=["R-2", "R-3", "R-4"]).exists()
    assert CampaignRecipient.objects.using("default").filter(campaign__public_id=second).count() == 5
    assert not CampaignRecipient.objects.using("replica").filter(campaign__public_id=second).exists()
    assert Segment.objects.using("replica").count() == 1
