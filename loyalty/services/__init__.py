"""Every write of the loyalty app. Views, API views, admin, commands, tasks and receivers call these."""

from .approvals import approve_point_adjustment, reject_point_adjustment, submit_point_adjustment
from .expiry import expire_points
from .ledger import ensure_account, lock_accounts
from .merges import merge_point_accounts
from .orders import prepare_order_points, reverse_order_points, write_order_points
from .points import adjust_points, redeem_points
from .tiers import recalculate_tiers

__all__ = [
    "adjust_points",
    "approve_point_adjustment",
    "ensure_account",
    "expire_points",
    "lock_accounts",
    "merge_point_accounts",
    "prepare_order_points",
    "recalculate_tiers",
    "redeem_points",
    "reject_point_adjustment",
    "reverse_order_points",
    "submit_point_adjustment",
    "write_order_points",
]
