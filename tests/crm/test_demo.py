"""The demo `make run` builds (manage.py seed_demo → crm.demo and every app's demo step): a small one,
run twice. The second run must change nothing, and the staff pages must show what a store's week has."""

import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse

from campaigns.models import Campaign, CampaignRecipient, Segment
from channels_hub.models import CsatResponse, Message, Ticket
from crm.demo import top_customers
from crm.models import Order
from inventory.models import Reservation, StockLevel
from loyalty.models import PointAccount, PointTransaction

# A real transaction: the campaign is sent by tasks queued on commit, as under `make run`.
# serialized_rollback: the data migrations' rows (roles, tiers, earn rules) are back even after another
# transactional test flushed the database.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
PAGES = [
    ("loyalty:finance", None),
    ("channels_hub:inbox", "ギフト包装"),
    ("inventory:reservations", None),
    ("inventory:stock", None),
    ("campaigns:campaign_list", "冬のセール先行案内"),
    ("campaigns:segment_list", "休眠顧客"),
    ("insights:dashboard", None),
]


def run_demo() -> str:
    out = io.StringIO()
    call_command("seed_demo", customers=120, orders=600, seed=2, stdout=out, stderr=io.StringIO(), verbosity=0)
    return out.getvalue()


def snapshot() -> dict:
    """Every table's row count and the figures a second run could move."""
    counts = {model._meta.label: model._base_manager.count() for model in apps.get_models() if model._meta.managed}
    return {
        **counts,
        "balances": list(PointAccount.objects.order_by("pk").values_list("balance", "lifetime_spend", "tier_id")),
        "stock": list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")),
        "tickets": list(Ticket.objects.order_by("pk").values_list("status", "assignee_id")),
        "campaigns": list(Campaign.objects.order_by("pk").values_list("status", "audience_size")),
    }


def test_the_demo_has_a_stores_week_its_pages_show_it_and_a_second_run_changes_nothing(admin_client):
    run_demo()
    before = snapshot()

    assert "nothing changed" in run_demo()
    assert snapshot() == before

    assert PointTransaction.objects.filter(kind="earn").count() > 100
    assert PointTransaction.objects.filter(kind="redeem").exists()
    assert PointTransaction.objects.filter(kind="adjust").exists()
    assert PointAccount.objects.exclude(tier__isnull=True).values("tier").distinct().count() >= 2
    assert set(Reservation.objects.values_list("kind", flat=True)) == {"hold", "pickup", "try_on"}
    assert Reservation.objects.filter(status="fulfilled").exists()
    channels = set(Message.objects.filter(direction="in").values_list("channel", flat=True))
    assert {"email", "chat", "line", "web_form"} <= channels
    continued = [t for t in Ticket.objects.all() if t.messages.values("channel").distinct().count() > 1]
    assert continued, "some conversations go on over a second channel in the same ticket"
    assert CsatResponse.objects.exists()
    assert Segment.objects.count() >= 3
    sent = Campaign.objects.get(status="sent")
    assert CampaignRecipient.objects.filter(campaign=sent, state="sent").exists()
    assert sent.holdout_percent == 10  # (too few recipients here to be sure one is held out)
    assert Order.objects.filter(source="demo", ordered_at__gte=sent.started_at).exists()

    top = top_customers(1)[0]
    account = PointAccount.objects.get(customer=top)
    assert account.balance > 0 and account.lifetime_spend > 0
    page = admin_client.get(reverse("crm:customer_detail", args=[top.public_id])).content.decode()
    assert f'points-balance">{account.balance}<' in page
    for url, expected in PAGES:
        response = admin_client.get(reverse(url))
        assert response.status_code == 200, url
        if expected:
            assert expected in response.content.decode(), url


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HOST": "127.0.0.1:8107"}, "http://127.0.0.1:8107"),  # `make run HOST=…`: links follow the server
        ({"HOST": "127.0.0.1:8107", "TSUNAGU_BASE_URL": "https://crm.shop.example"}, "https://crm.shop.example"),
        ({}, "http://127.0.0.1:8000"),
    ],
)
def test_links_follow_host_unless_the_base_url_is_set(env, expected):
    import os
    import subprocess
    import sys

    from django.conf import settings

    clean = {k: v for k, v in os.environ.items() if k not in ("HOST", "TSUNAGU_BASE_URL")}
    code = "import crm.settings as s; print(s.TSUNAGU_BASE_URL)"
    out = subprocess.run(  # noqa: S603  our own interpreter and a fixed script
        [sys.executable, "-c", code], env={**clean, **env}, cwd=settings.BASE_DIR, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert out.stdout.strip() == expected
