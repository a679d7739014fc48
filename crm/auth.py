from allauth.account.adapter import DefaultAccountAdapter


class StaffOnlyAccountAdapter(DefaultAccountAdapter):
    """Tsunagu is for a retailer's staff: nobody signs up; admins invite staff (crm.services.invite_staff)."""

    def is_open_for_signup(self, request):
        return False
