"""LINE's part of a person's export and erasure (APPI): their LINE accounts, consent, display names,
link requests, postbacks and the LINE campaign messages sent to them; nobody else's."""

import datetime as dt
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from campaigns.line_personal_data import erase_line_campaign_messages, export_line_campaign_messages
from campaigns.models import CampaignRecipient
from campaigns.services import start_campaign
from campaigns.services.line_sending import send_line_batch
from channels_hub.line.models import LineFollower, LineLinkRequest, LineWebhookEvent
from channels_hub.line.personal_data import erase_line, export_line
from crm import registry
from tests.campaigns.factories import CampaignFactory, SegmentFactory
from tests.crm.factories import CustomerFactory

from .line_support import user_id

pytestmark = pytest.mark.django_db
ALICE, BOB = user_id(1), user_id(2)


@pytest.fixture
def alice(line_account, fake_line, client):
    """A member who linked her LINE account, follows the shop, tapped a postback and got a campaign."""
    member = CustomerFactory(member_number="123456789012", birth_date=dt.date(1985, 3, 3))
    fake_line.follow(ALICE, "ありす")
    fake_line.say(ALICE, "会員連携")
    url = urlsplit(fake_line.delivered_to(ALICE)[-1].split()[-1])
    dialog = client.post(f"{url.path}?{url.query}", {"member_number": "123456789012", "birth_date": "1985-03-03"})
    query = dict(pair.split("=", 1) for pair in urlsplit(dialog["Location"]).query.split("&"))
    fake_line.account_link(query["linkToken"], query["nonce"])
    fake_line.postback(ALICE, "size=M")
    campaign = CampaignFactory(segment=SegmentFactory(rules={"field": "prefecture", "op": "eq", "value": "東京都"}),
                               channel="line", line_account=line_account, line_text="セール")  # fmt: skip
    campaign = start_campaign(campaign=campaign, dispatch=False)
    send_line_batch(campaign_id=campaign.pk, recipient_ids=list(campaign.recipients.values_list("pk", flat=True)))
    fake_line.follow(BOB, "ぼぶ")  # someone else
    fake_line.postback(BOB, "size=L")
    return SimpleNamespace(customer=member, customer_ids=(member.pk,), public_ids=(member.public_id,))


def test_the_export_has_her_line_accounts_consent_links_postbacks_and_campaign_messages(alice):
    line = export_line(alice)["line"]
    assert line["accounts"] == [{
        "official_account": "shop", "line_user_id": ALICE, "display_name": "ありす", "follows": True,
        "follow_changed_at": line["accounts"][0]["follow_changed_at"], "opted_out_at": None,
    }]  # fmt: skip
    assert [link["status"] for link in line["account_links"]] == ["linked"]
    assert [p["data"] for p in line["postbacks"]] == [{"data": "size=M"}]
    messages = export_line_campaign_messages(alice)["line_campaign_messages"]
    assert [(m["line_user_id"], m["state"]) for m in messages] == [(ALICE, "sent")]


def test_erasure_empties_her_line_data_and_leaves_others(alice):
    erase_line(alice)
    erase_line_campaign_messages(alice)
    assert not LineFollower.objects.filter(line_user_id=ALICE).exists()
    erased = LineFollower.objects.get(line_user_id__startswith="erased:")
    assert erased.display_name == "" and not erased.follows
    assert not LineWebhookEvent.objects.filter(line_user_id=ALICE).exists()
    assert LineWebhookEvent.objects.filter(line_user_id=BOB).count() == 2
    assert set(LineLinkRequest.objects.values_list("line_user_id", "proof_encrypted")) == {("erased", "")}
    assert set(CampaignRecipient.objects.values_list("line_user_id", flat=True)) == {"erased"}
    assert LineFollower.objects.get(line_user_id=BOB).display_name == "ぼぶ"
    after = export_line(alice)["line"]
    assert after["accounts"] == [] and after["postbacks"] == []
    assert [link["line_user_id"] for link in after["account_links"]] == ["erased"]


def test_line_data_is_registered_for_export_and_erasure():
    keys = {source.key for source in registry.personal_data_sources()}
    assert {"channels_hub.line", "campaigns.line"} <= keys
