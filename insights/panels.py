"""insights' plug-ins, all through crm.registry so that no app imports insights: the "suggest to this
customer" panel on the 360 page, the dashboard in the menu, and `recommended_products` in campaign
mails (each recipient's own suggestions, in stock online)."""

from django.utils.translation import gettext_lazy as _

from crm.registry import MailVariable, NavItem, Panel, register_mail_variable, register_nav_item, register_panel

from .recommendations import recommend_for_customers

PANEL_SUGGESTIONS = 6
MAIL_SUGGESTIONS = 4


def _suggestions_context(customer, request):
    store = getattr(request.user, "store", None)
    store = store if store is not None and store.active else None
    suggestions = recommend_for_customers([customer], limit=PANEL_SUGGESTIONS, store=store)[customer.pk]
    return {"suggestions": suggestions, "suggestion_store": store}


def product_for_mail(product) -> dict:
    return {"sku": product.sku, "name": product.name, "brand": product.brand, "price": product.price,
            "category": product.category}  # fmt: skip


def mail_suggestions(*, customers) -> dict:
    """Each recipient's suggestions for a campaign mail: what can be bought online now."""
    found = recommend_for_customers(list(customers), limit=MAIL_SUGGESTIONS)
    return {pk: [product_for_mail(s.product) for s in suggestions] for pk, suggestions in found.items()}


SAMPLE_PRODUCTS = [
    {"sku": "KZ-OUT01-NV", "name": "KAZE ウールコート ネイビー", "brand": "KAZE", "price": 38990,
     "category": "outerwear"},
    {"sku": "TB-ACC01-GY", "name": "TSUNAGU BASICS ウールマフラー グレー", "brand": "TSUNAGU BASICS", "price": 2990,
     "category": "accessories"},
]  # fmt: skip

register_panel(
    Panel("suggestions", _("Suggest to this customer"), "insights/panels/suggestions.html", _suggestions_context,
          order=35, permission="crm.view_product")
)  # fmt: skip
register_nav_item(NavItem("insights", _("Insights"), "insights:dashboard", permission="insights.view_kpis", order=70))
register_mail_variable(
    MailVariable(
        "recommended_products", mail_suggestions, SAMPLE_PRODUCTS,
        help=_("Up to 4 products suggested to the recipient, in stock online: sku, name, brand, price, category."),
    )
)  # fmt: skip
