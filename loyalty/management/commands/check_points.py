from django.core.management.base import BaseCommand, CommandError

from loyalty.selectors import accounts_out_of_balance


class Command(BaseCommand):
    help = "Verify every points account: cached balance = ledger sum = points left in its lots."

    def handle(self, *args, **options):
        bad = accounts_out_of_balance()
        if not bad:
            self.stdout.write(self.style.SUCCESS("All point accounts agree with their ledger and lots."))
            return
        for row in bad:
            self.stdout.write(
                f"account {row.account_id} customer {row.customer_id}: "
                f"balance {row.balance}, ledger {row.ledger}, lots {row.lots}"
            )
        raise CommandError(f"{len(bad)} point account(s) disagree with their ledger or lots.")
