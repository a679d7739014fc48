"""Money is integer yen. What one loyalty point is worth is defined here, once, in the bottom layer:
an order pays `points_redeemed * POINT_VALUE_YEN` yen with points, and loyalty values outstanding
points with the same figure. The orders table holds it too (CHECK total = subtotal - points_redeemed),
so a different value would need that constraint changed with it: it is a constant, not a setting."""

POINT_VALUE_YEN = 1


def points_in_yen(points: int) -> int:
    return points * POINT_VALUE_YEN
