from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from crm.exceptions import DomainError
from crm.privacy.services import erase_customer


class Command(BaseCommand):
    help = (
        "Erase a person's personal data in every app (APPI): names, contacts, address, birth date, identities, "
        "message texts, mail addresses. Orders, amounts and ledgers are kept. IRREVERSIBLE."
    )

    def add_arguments(self, parser):
        parser.add_argument("customer_id", help="The customer's id (cus_…); a merged-away id erases the survivor.")
        parser.add_argument("--reason", required=True, help="Why, e.g. the reference of the person's request.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, customer_id, reason, yes, **options):
        if not yes and options.get("interactive", True):
            self.stdout.write(
                _("This erases the personal data of %(id)s in every app and cannot be undone.") % {"id": customer_id}
            )
            if input(_("Type the customer id to confirm: ")).strip() != customer_id:
                raise CommandError(_("Not confirmed; nothing was erased."))
        try:
            erasure = erase_customer(customer_id=customer_id, reason=reason)
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(_("Erased %(id)s.") % {"id": erasure.customer.public_id})
        for source, counts in erasure.counts.items():
            self.stdout.write(f"  {source}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
