"""What each staff role may do in the contact hub (granted by migration 0002)."""

_READ = ["view_ticket", "view_message", "view_lead", "view_team", "view_cannedreply", "view_csatresponse"]
HUB_ROLE_PERMISSIONS: dict[str, list[str] | None] = {
    # Store staff write counter notes and see a customer's contacts.
    "store_staff": ["view_ticket", "view_message", "add_message"],
    "agent": [*_READ, "add_message", "change_ticket", "change_lead", "view_routingrule", "view_slapolicy"],
    "marketer": ["view_ticket"],
    "admin": None,  # every permission of the app
}
