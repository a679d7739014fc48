"""Every automatic mail to a customer or enquirer carries the sender's name and postal address and,
for a known customer, a working link to the page where they choose their mails or stop them all."""

import re

import pytest
from django.core import mail

from channels_hub.services.outbound import send_csat_survey
from inventory.services import create_reservation
from tests.channels_hub.factories import LeadFactory, MessageFactory, TicketFactory
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory, stock

pytestmark = pytest.mark.django_db

SENDER = {"TSUNAGU_SENDER_NAME": "つなぐ商店", "TSUNAGU_SENDER_ADDRESS": "東京都渋谷区神南1-2-3"}


@pytest.fixture(autouse=True)
def _sender(settings):
    for key, value in SENDER.items():
        setattr(settings, key, value)


def test_a_pickup_ready_mail_names_the_sender_and_links_to_working_mail_preferences(
    client, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(email="hanako@example.jp")
    store, product = StoreFactory(name="渋谷店"), ProductFactory()
    stock(product, store, 1)
    with django_capture_on_commit_callbacks(execute=True):
        create_reservation(customer=customer, store=store, product=product, quantity=1, kind="pickup")
    [sent] = mail.outbox
    assert "つなぐ商店" in sent.body and "東京都渋谷区神南1-2-3" in sent.body
    path = re.search(r"https?://[^/\s]+(/campaigns/p/\S+/)", sent.body).group(1)
    page = client.get(path)
    assert page.status_code == 200  # an invalid token answers 404


def test_a_survey_to_an_enquirer_without_a_customer_names_the_sender_without_a_link():
    ticket = TicketFactory(customer=None, lead=LeadFactory(email="visitor@example.jp"), status="resolved")
    MessageFactory(ticket=ticket, channel="email")
    assert send_csat_survey(ticket_id=ticket.pk) is True
    [sent] = mail.outbox
    assert sent.to == ["visitor@example.jp"]
    body = sent.body
    assert "つなぐ商店" in body and "東京都渋谷区神南1-2-3" in body
    assert "/campaigns/p/" not in body


def test_without_sender_settings_the_mail_is_left_as_written(settings):
    from crm.mail import with_sender_footer

    settings.TSUNAGU_SENDER_NAME, settings.TSUNAGU_SENDER_ADDRESS = "", ""
    assert with_sender_footer("本文\n") == "本文\n"
