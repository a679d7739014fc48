from django.core.management.base import BaseCommand

from loyalty import conf
from loyalty.selectors import points_activity, points_liability


class Command(BaseCommand):
    help = "Outstanding points as a liability by month of expiry, and points moved per month and channel."

    def handle(self, *args, **options):
        value = conf.point_value_yen()
        self.stdout.write(f"Outstanding points by month of expiry (1 point = {value} yen)")
        self.stdout.write(f"{'month':<8} {'points':>12} {'yen':>14}")
        total_points = total_yen = 0
        for row in points_liability():
            self.stdout.write(f"{row.month:%Y-%m} {row.points:>12,} {row.yen:>14,}")
            total_points += row.points
            total_yen += row.yen
        self.stdout.write(f"{'total':<8} {total_points:>12,} {total_yen:>14,}")
        self.stdout.write("")
        self.stdout.write("Points per month and channel")
        columns = ["issued", "redeemed", "expired", "reversed", "adjusted", "shortfall"]
        self.stdout.write(f"{'month':<8} {'channel':<8} " + " ".join(f"{c:>10}" for c in columns))
        for row in points_activity():
            values = [row.earned, row.redeemed, row.expired, row.reversed, row.adjusted, row.shortfall]
            self.stdout.write(f"{row.month:%Y-%m} {row.channel or '-':<8} " + " ".join(f"{v:>10,}" for v in values))
