"""Two beat runs of a journey at the same instant (a slow run overlapping the next, or two workers):
every customer gets the journey's mail once. Real threads with their own connections on PostgreSQL."""

import datetime as dt

import pytest
from django.core import mail

from campaigns.models import Journey, JourneyEnrollment, JourneyMessage
from campaigns.services.journeys import run_journey
from crm.models import Customer
from tests.concurrency import run_concurrently

from .factories import CustomerFactory
from .journey_support import NOON, make_journey

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_four_concurrent_runs_mail_each_customer_once():
    journey = make_journey()
    customers = CustomerFactory.create_batch(30, email_opt_in=True)
    Customer.objects.filter(pk__in=[c.pk for c in customers]).update(created_at=NOON - dt.timedelta(days=1))
    results = run_concurrently(lambda i: run_journey(journey=Journey.objects.get(pk=journey.pk), now=NOON), 4)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r["entered"] for r in results) == 30
    assert JourneyEnrollment.objects.count() == 30
    assert JourneyMessage.objects.filter(state="sent").count() == 30
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)
