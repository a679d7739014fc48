from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Customer
from crm.privacy.access_log import access_log


class Command(BaseCommand):
    help = "Who saw or exported a person's data, when and how (newest first), from the access log."

    def add_arguments(self, parser):
        parser.add_argument("--customer", required=True, help="The customer's id (cus_…); merged records included.")
        parser.add_argument("--limit", type=int, default=200, help="At most this many entries (default 200).")

    def handle(self, *args, customer, limit, **options):
        row = Customer.objects.filter(public_id=customer.strip()).first()
        if row is None:
            raise CommandError(_("No customer with this id."))
        if limit < 1:
            raise CommandError(_("--limit must be at least 1."))
        survivor_pk = row.merged_into_id or row.pk
        ids = [survivor_pk, *Customer.objects.filter(merged_into_id=survivor_pk).values_list("pk", flat=True)]
        entries = list(access_log(customer_ids=ids)[:limit])
        if not entries:
            self.stdout.write(_("Nobody has viewed this customer's data (within the retention period)."))
            return
        for e in entries:
            at = timezone.localtime(e.at).isoformat(timespec="seconds")
            self.stdout.write("\t".join([at, e.actor, e.kind, e.what, e.ip_address or "-", e.customer.public_id]))
