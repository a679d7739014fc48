"""Every write of the crm core. Views, API views, admin, commands and other apps call these."""

from .api_keys import create_api_key, revoke_api_key, set_api_key_rate_limit
from .catalog import upsert_product
from .customers import create_customer, link_channel_account, update_customer
from .imports import ImportResult, export_customers_csv, import_customers, read_customer_csv
from .merges import merge_customers
from .orders import lock_customer, record_order, record_return
from .staff import invite_staff, set_staff_language

__all__ = [
    "ImportResult",
    "create_api_key",
    "create_customer",
    "export_customers_csv",
    "import_customers",
    "invite_staff",
    "link_channel_account",
    "lock_customer",
    "merge_customers",
    "read_customer_csv",
    "record_order",
    "record_return",
    "revoke_api_key",
    "set_api_key_rate_limit",
    "set_staff_language",
    "update_customer",
    "upsert_product",
]
