from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import stock_mismatches


class Command(BaseCommand):
    help = (
        "Verify that every stock level equals the sum of its movements and that reserved units equal the "
        "active reservations. Exits non-zero on any difference."
    )

    def handle(self, *args, **options):
        mismatches = stock_mismatches()
        for m in mismatches:
            self.stderr.write(
                f"store_id={m.store_id} product_id={m.product_id} level on_hand={m.on_hand} reserved={m.reserved} "
                f"ledger on_hand={m.ledger_on_hand} reserved={m.ledger_reserved} "
                f"active reservations={m.reserved_by_reservations}"
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} stock level(s) disagree with the ledger.")
        self.stdout.write(self.style.SUCCESS("Stock levels agree with the ledger."))
