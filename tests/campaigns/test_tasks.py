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


def test_stalled_send_is_queued_again(django_capture_on_commit_callbacks):
    CustomerFactory.create_batch(3)
    campaign = start_campaign(campaign=CampaignFactory(), dispatch=False)  # as if its batches were lost
    assert requeue_stalled_sends.delay().get() == 0  # just started: not stalled yet
    Campaign.objects.filter(pk=campaign.pk).update(started_at=timezone.now() - dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):  # batches are queued once the window is saved
        assert requeue_stalled_sends.delay().get() == 1
    assert len(mail.outbox) == 3
    assert set(CampaignRecipient.objects.values_list("state", flat=True)) == {"sent"}
    assert Campaign.objects.get(pk=campaign.pk).status == "sent"


# --- Batches queued as a rolling window -----------------------------------------------------------------
class Broker:
    """Stands in for the broker: send_batch.apply_async records (recipient ids, countdown) in a queue."""

    def __init__(self, monkeypatch):
        from django.conf import settings

        from campaigns import tasks

        self.queue, self.countdowns, self.most_queued = [], [], 0
        monkeypatch.setattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)  # a real broker's window
        monkeypatch.setattr(tasks.send_batch, "apply_async", self.apply_async)
        monkeypatch.setattr(tasks.dispatch_campaign, "delay", lambda campaign_id: tasks.dispatch_campaign(campaign_id))

    def apply_async(self, *, args, countdown):
        self.queue.append(args)
        self.countdowns.append(countdown)
        self.most_queued = max(self.most_queued, len(self.queue))

    def run_next(self, capture):
        from campaigns.tasks import send_batch

        campaign_id, ids = self.queue.pop(0)
        with capture(execute=True):
            return send_batch(campaign_id, ids)


def test_a_campaign_queues_a_window_of_batches_and_each_batch_queues_the_next(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    from campaigns.tasks import dispatch_campaign

    settings.CAMPAIGNS_BATCH_SIZE, settings.CAMPAIGNS_QUEUE_WINDOW = 5, 2
    customers = CustomerFactory.create_batch(23)
    broker = Broker(monkeypatch)
    campaign = start_campaign(campaign=CampaignFactory(), dispatch=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_campaign(campaign.pk) == 2
    assert [len(ids) for _c, ids in broker.queue] == [5, 5]
    mailed = 0
    while broker.queue:
        mailed += broker.run_next(django_capture_on_commit_callbacks)
    assert mailed == 23 and broker.most_queued == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)
    assert Campaign.objects.get(pk=campaign.pk).status == "sent"


def test_a_throttled_campaign_is_never_queued_beyond_the_visibility_timeout(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    from campaigns.services.sending import SendPlan, send_plan
    from campaigns.tasks import dispatch_campaign

    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60}
    settings.CAMPAIGNS_BATCH_SIZE, settings.CAMPAIGNS_QUEUE_WINDOW = 500, 4
    CustomerFactory.create_batch(40)
    broker = Broker(monkeypatch)
    campaign = start_campaign(campaign=CampaignFactory(throttle=1), dispatch=False)  # one mail a second
    assert send_plan(campaign) == SendPlan(batch_size=30, window=1, spacing=30.0)  # a batch lasts ≤ half of it
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_campaign(campaign.pk)
    assert broker.countdowns == [0]  # the next batch is queued when this one ends, not an hour ahead
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 900}
    campaign = start_campaign(campaign=CampaignFactory(throttle=10), dispatch=False)
    broker.queue, broker.countdowns = [], []
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_campaign(campaign.pk)
    assert broker.countdowns == [0]  # 40 recipients at 10/s: one batch
    plan = send_plan(campaign)
    assert plan == SendPlan(batch_size=500, window=4, spacing=50.0)
    assert (plan.window - 1) * plan.spacing + plan.spacing <= 450  # the last of a window ends within 7.5 min


def test_paced_batches_start_one_after_another_within_the_window(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    from campaigns.tasks import dispatch_campaign

    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 900}
    settings.CAMPAIGNS_BATCH_SIZE, settings.CAMPAIGNS_QUEUE_WINDOW = 10, 3
    CustomerFactory.create_batch(50)
    broker = Broker(monkeypatch)
    campaign = start_campaign(campaign=CampaignFactory(throttle=5), dispatch=False)  # a batch takes 2 s
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_campaign(campaign.pk)
    assert broker.countdowns == [0, 2, 4]
    broker.queue.pop(0)  # the first batch runs and ends: one more, after the two still waiting
    from campaigns.services import queue_next_batches

    first_ten = CampaignRecipient.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)[:10]
    CampaignRecipient.objects.filter(pk__in=list(first_ten)).update(state="sent", sent_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_next_batches(campaign_id=campaign.pk) == 1
    assert broker.countdowns[-1] == 4 and len(broker.queue) == 3


def test_lost_batches_are_queued_again_by_the_stalled_send_check(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    from campaigns.tasks import dispatch_campaign

    settings.CAMPAIGNS_BATCH_SIZE, settings.CAMPAIGNS_QUEUE_WINDOW = 5, 2
    CustomerFactory.create_batch(12)
    broker = Broker(monkeypatch)
    campaign = start_campaign(campaign=CampaignFactory(), dispatch=False)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_campaign(campaign.pk)
    broker.queue.clear()  # the worker holding them died and the broker lost them
    Campaign.objects.filter(pk=campaign.pk).update(started_at=timezone.now() - dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stalled_sends() == 1
    while broker.queue:
        broker.run_next(django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 12
    assert Campaign.objects.get(pk=campaign.pk).status == "sent"


def test_a_paused_campaign_queues_nothing_more_and_resumes_where_it_stopped(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    from campaigns.services import pause_campaign, resume_campaign
    from campaigns.tasks import dispatch_campaign

    settings.CAMPAIGNS_BATCH_SIZE, settings.CAMPAIGNS_QUEUE_WINDOW = 5, 1
    CustomerFactory.create_batch(12)
    broker = Broker(monkeypatch)
    campaign = start_campaign(campaign=CampaignFactory(), dispatch=False)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_campaign(campaign.pk)
    broker.run_next(django_capture_on_commit_callbacks)  # 5 mailed, the next batch queued
    pause_campaign(campaign=campaign)
    assert broker.run_next(django_capture_on_commit_callbacks) == 0 and not broker.queue
    with django_capture_on_commit_callbacks(execute=True):
        resume_campaign(campaign=campaign)
    while broker.queue:
        broker.run_next(django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 12 and len({m.to[0] for m in mail.outbox}) == 12
    assert Campaign.objects.get(pk=campaign.pk).status == "sent"
