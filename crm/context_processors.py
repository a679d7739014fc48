from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .registry import navigation_for


def navigation(request):
    """The staff menu: crm's pages plus whatever other apps registered, filtered by permission."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [
        {"label": _("Customers"), "url": reverse("crm:customer_search"), "key": "customers"},
    ]
    if user.has_perm("crm.merge_customer"):
        items.append({"label": _("Duplicates"), "url": reverse("crm:duplicates"), "key": "duplicates"})
    items += navigation_for(user)
    if user.is_staff:
        items.append({"label": _("Admin"), "url": reverse("admin:index"), "key": "admin"})
    return {"nav_items": items}
