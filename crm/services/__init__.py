"""Every write of the crm core. Views, API views, admin, commands and other apps call these."""

from .api_keys import create_api_key, revoke_api_key, set_api_key_rate_limit
from .catalog import upsert_product
from .customers import create_customer, link_channel_account, update_customer
from .fulfilment import (
    cancel_order,
    cancel_uncollected_pickups,
    collect_order,
    mark_order_ready,
    ship_order,
)
from .imports import ImportResult, export_customers_csv, import_customers, read_customer_csv
from .merges import merge_customers
from .orders import lock_customer, mark_orders_assisted, record_order, record_return, set_orders_points_earned
from .staff import invite_staff, set_staff_language

__all__ = [
    "ImportResult",
    "cancel_order",
    "cancel_uncollected_pickups",
    "collect_order",
    "create_api_key",
    "create_customer",
    "export_customers_csv",
    "import_customers",
    "invite_staff",
    "link_channel_account",
    "lock_customer",
    "mark_order_ready",
    "mark_orders_assisted",
    "merge_customers",
    "read_customer_csv",
    "record_order",
    "record_return",
    "revoke_api_key",
    "set_api_key_rate_limit",
    "set_orders_points_earned",
    "set_staff_language",
    "ship_order",
    "update_customer",
    "upsert_product",
]
