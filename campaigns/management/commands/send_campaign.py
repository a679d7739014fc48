"""Send a campaign from the command line, with a progress bar.

    manage.py send_campaign cmp_01J…            # start it (or resume it) on the Celery workers and watch
    manage.py send_campaign cmp_01J… --here     # send the batches in this process (no worker needed)

A draft or scheduled campaign is started (its audience frozen now); a paused one is resumed; a
campaign that is sending already is watched (with --here, its pending recipients are sent from here
too, safely alongside the workers). Ctrl-C stops watching; the workers carry on.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from campaigns import conf
from campaigns.models import Campaign, CampaignRecipient
from campaigns.selectors import campaign_by_public_id, campaign_counts
from campaigns.services import resume_campaign, send_recipient_batch, start_campaign
from campaigns.services.line_sending import send_line_batch
from campaigns.services.pressure import in_quiet_hours
from crm.exceptions import DomainError

Status = Campaign.Status


class Command(BaseCommand):
    help = "Start, resume or watch the sending of a campaign, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", help="public id (cmp_…)")
        parser.add_argument("--here", action="store_true", help="send the batches in this process")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between progress updates when watching")

    def handle(self, *args, campaign_id, here, poll, **options):
        campaign = campaign_by_public_id(campaign_id)
        if campaign is None:
            raise CommandError(f"No campaign {campaign_id}.")
        try:
            if campaign.status in (Status.DRAFT, Status.SCHEDULED):
                campaign = start_campaign(campaign=campaign, dispatch=not here)
            elif campaign.status == Status.PAUSED:
                campaign = resume_campaign(campaign=campaign)
            elif campaign.status != Status.SENDING:
                raise CommandError(f"Campaign {campaign_id} is {campaign.status}; nothing to send.")
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        counts = campaign_counts(campaign)
        quiet = options["verbosity"] == 0
        with tqdm(total=counts["recipients"], initial=counts["sent"] + counts["failed"], unit="mail",
                  disable=quiet, desc=campaign.public_id) as bar:  # fmt: skip
            if here:
                self._send_here(campaign, bar)
            else:
                self._watch(campaign, bar, poll)
        campaign.refresh_from_db()
        counts = campaign_counts(campaign)
        self.stdout.write(
            f"{campaign.public_id}: {campaign.status}; sent {counts['sent']:,}, failed {counts['failed']:,}, "
            f"pending {counts['pending']:,}, suppressed {counts['suppressed']:,}, hold-out {counts['holdout']:,}."
        )

    def _send_here(self, campaign, bar):
        size = conf.batch_size()
        while True:
            ids = list(
                CampaignRecipient.objects.filter(campaign=campaign, state=CampaignRecipient.State.PENDING)
                .order_by("pk")
                .values_list("pk", flat=True)[:size]
            )
            if not ids or not Campaign.objects.filter(pk=campaign.pk, status=Status.SENDING).exists():
                break
            resume = in_quiet_hours(timezone.now())
            if resume is not None:
                self.stdout.write(
                    f"Quiet hours until {timezone.localtime(resume):%H:%M}: the rest stays pending and is sent "
                    "after them (beat's requeue_stalled_sends, or run this again)."
                )
                break
            before = bar.n
            send_recipient_batch(campaign_id=campaign.pk, recipient_ids=ids)  # as the send_batch task: mail,
            send_line_batch(campaign_id=campaign.pk, recipient_ids=ids)  # then LINE
            done = CampaignRecipient.objects.filter(pk__in=ids).exclude(state=CampaignRecipient.State.PENDING).count()
            if done == 0:
                break  # nothing of this batch could be sent here (e.g. quiet hours began): the rest stays pending
            bar.update(max(0, done - (bar.n - before)))

    def _watch(self, campaign, bar, poll):
        while True:
            campaign.refresh_from_db(fields=["status"])
            counts = campaign_counts(campaign)
            bar.total = counts["recipients"]
            bar.update(counts["sent"] + counts["failed"] - bar.n)
            if campaign.status != Status.SENDING:
                return
            time.sleep(poll)
