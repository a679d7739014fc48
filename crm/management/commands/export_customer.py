import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from crm.exceptions import DomainError
from crm.privacy.services import export_customer


class Command(BaseCommand):
    help = (
        "Print one JSON document with everything Tsunagu holds about a person (APPI disclosure), every app "
        "included. A merged-away id exports the surviving customer and says so. The export is logged."
    )

    def add_arguments(self, parser):
        parser.add_argument("customer_id", help="The customer's id (cus_…).")
        parser.add_argument("--output", "-o", help="File to write; standard output if not given.")

    def handle(self, *args, customer_id, output, **options):
        try:
            document = export_customer(customer_id=customer_id)
        except (DomainError, ValidationError) as exc:
            raise CommandError(str(exc.detail if isinstance(exc, DomainError) else " ".join(exc.messages))) from exc
        text = json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        if not output:
            self.stdout.write(text)
            return
        try:
            with open(output, "w", encoding="utf-8") as out:
                out.write(text + "\n")
        except OSError as exc:
            raise CommandError(str(exc)) from exc
