import datetime as dt

import factory
from django.utils import timezone

from channels_hub.models import CannedReply, ChannelEndpoint, Lead, Message, RoutingRule, SlaPolicy, Team, Ticket
from tests.crm.factories import CustomerFactory


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"サポート{n}")


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"lead{n}@example.jp")
    sender_key = factory.LazyAttribute(lambda o: f"email:{o.email}")
    name = "山田 太郎"


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    customer = factory.SubFactory(CustomerFactory)
    subject = "コートのサイズ交換"
    first_channel = "email"
    last_message_at = factory.LazyFunction(timezone.now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory)
    channel = "email"
    direction = Message.Direction.IN
    author = Message.Author.CUSTOMER
    body = "サイズを交換したいです。"
    sent_at = factory.LazyFunction(timezone.now)


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingRule

    name = factory.Sequence(lambda n: f"rule {n}")


class SlaPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlaPolicy
        django_get_or_create = ("priority",)

    priority = "normal"
    first_response_minutes = 60
    resolution_minutes = 60 * 24
    business_hours_only = False
    business_start = dt.time(9)
    business_end = dt.time(18)


class CannedReplyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CannedReply

    title = "お礼"
    body = "お問い合わせありがとうございます。"


class EndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelEndpoint

    channel = "line"
    url = "http://127.0.0.1:9/hook"
    secret = "s3cret"
