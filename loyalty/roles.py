"""What each staff role may do with points (granted by migration 0002, like crm/roles.py)."""

from crm.roles import ADMIN, AGENT, MARKETER, STORE_STAFF

_VIEW = ["view_pointaccount", "view_pointtransaction", "view_pointlot", "view_tier", "view_earnrule"]
LOYALTY_ROLE_PERMISSIONS: dict[str, list[str] | None] = {
    STORE_STAFF: [*_VIEW, "add_pointtransaction"],  # redeem and award at the counter, with a reason
    AGENT: _VIEW,
    MARKETER: [*_VIEW, "view_pointcampaign"],
    ADMIN: None,  # every permission of the app, including view_finance
}
