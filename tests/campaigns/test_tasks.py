import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from campaigns.services import schedule_campaign, start_campaign
from campaigns.tasks import requeue_stalled_sends, start_due

from .factories import CampaignFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_scheduled_campaign_starts_when_due(django_capture_on_commit_callbacks):
    CustomerFactory.create_batch(2)
    campaign = schedule_campaign(campaign=CampaignFactory(), at=timezone.now() + dt.timedelta(minutes=5))
    assert start_due.delay().get() == 0
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert start_due.delay().get() == 1
    assert len(mail.outbox) == 2
    assert Campaign.objects.get(pk=campaign.pk).status == "sent"


def test_stalled_send_is_queued_again():
    CustomerFactory.create_batch(3)
    campaign = start_campaign(campaign=CampaignFactory(), dispatch=False)  # as if its batches were lost
    assert requeue_stalled_sends.delay().get() == 0  # just started: not stalled yet
    Campaign.objects.filter(pk=campaign.pk).update(started_at=timezone.now() - dt.timedelta(hours=1))
    assert requeue_stalled_sends.delay().get() == 1
    assert len(mail.outbox) == 3
    assert set(CampaignRecipient.objects.values_list("state", flat=True)) == {"sent"}
    assert Campaign.objects.get(pk=campaign.pk).status == "sent"
