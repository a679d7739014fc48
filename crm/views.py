"""Staff pages of the crm core. Thin: reads through selectors and the panel registry, writes through
services. Other apps add panels, timeline entries and menu items through crm.registry, so this module
never imports them."""

import re
import unicodedata
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef
from django.http import Http404, HttpResponse, HttpResponseServerError
from django.shortcuts import redirect, render
from django.template import loader
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import selectors
from .api.errors import api_not_found, api_server_error
from .forms import LanguageForm, MergeForm, SearchForm
from .models import AccessLogEntry, Customer
from .privacy.access_log import log_access
from .registry import customer_summaries, customer_timeline, panels_for
from .services import merge_customers, set_staff_language
from .services.customers import MEMBER_NUMBER_RE

SEARCH_LIMIT = 20
TIMELINE_LIMIT = 20


def staff_page(permission: str):
    """Anonymous people go to the login page; signed-in staff without the permission get a 403.
    An htmx request whose session ran out is told to load the login page as a whole page, instead of
    having the login form swapped into the result list."""

    def decorate(view):
        protected = login_required(permission_required(permission, raise_exception=True)(view))

        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.headers.get("HX-Request") == "true" and not request.user.is_authenticated:
                login_url = redirect_to_login(request.get_full_path())["Location"]
                return HttpResponse(status=204, headers={"HX-Redirect": login_url})
            return protected(request, *args, **kwargs)

        return wrapper

    return decorate


@login_required
def home(request):
    return redirect("crm:customer_search")


@require_GET
@staff_page("crm.view_customer")
def customer_search(request):
    """One box for member number, phone (any format), email, name or kana. htmx asks for the result
    list alone while staff type; a plain submit (no JavaScript) gets the whole page."""
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    customers, more, old_card_holder = [], False, None
    if query:
        found = selectors.customer_search(query=query).annotate(
            has_merged_records=Exists(Customer.objects.filter(merged_into=OuterRef("pk")))
        )
        customers = list(found[: SEARCH_LIMIT + 1])
        more = len(customers) > SEARCH_LIMIT
        customers = customers[:SEARCH_LIMIT]
        old_card_holder = _old_card_holder(query, customers)
        if old_card_holder:
            customers.insert(0, old_card_holder)
    summaries = customer_summaries(customers) if customers else {}
    results = [
        {"customer": c, "summary": summaries.get(c.pk, {}), "via_merged_card": c is old_card_holder} for c in customers
    ]
    context = {
        "form": form,
        "query": query,
        "results": results,
        "show_points": any("points_balance" in r["summary"] for r in results),
        "more": more,
        "limit": SEARCH_LIMIT,
    }
    partial = request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")
    template = "crm/_search_results.html" if partial else "crm/customer_search.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _old_card_holder(query: str, found: list[Customer]) -> Customer | None:
    """Search lists active customers only; the card of a record that was merged away still finds the
    survivor, marked as such, unless the survivor is already in the list."""
    number = re.sub(r"\s+", "", unicodedata.normalize("NFKC", query))
    if not MEMBER_NUMBER_RE.match(number) or any(c.member_number == number for c in found):
        return None
    holder = selectors.customer_by_member_number(number)
    if holder is None or holder.member_number == number or any(c.pk == holder.pk for c in found):
        return None
    return holder


def customer_or_404(public_id: str) -> Customer:
    """The customer (for a merged id, the survivor) a staff page is about, or a 404 page."""
    customer = selectors.get_customer(public_id)
    if customer is None:
        raise Http404(_("No customer with this id."))
    return customer


@require_GET
@staff_page("crm.view_customer")
def customer_detail(request, public_id):
    """The 360 page: every panel the staff member may see, in registry order, then the timeline."""
    customer = customer_or_404(public_id)
    if customer.public_id != public_id:
        messages.info(
            request,
            _("Customer %(old)s was merged into this customer; you are seeing the surviving record.")
            % {"old": public_id},
        )
        return redirect("crm:customer_detail", public_id=customer.public_id)
    panels = []
    for panel in panels_for(request.user):
        context = {**panel.get_context(customer, request), "customer": customer, "panel": panel}
        panels.append({"panel": panel, "html": render_to_string(panel.template, context, request=request)})
    timeline = customer_timeline(customer=customer, limit=TIMELINE_LIMIT)
    log_access(request=request, customers=[customer], kind=AccessLogEntry.Kind.CUSTOMER_PAGE)
    return render(request, "crm/customer_detail.html", {"customer": customer, "panels": panels, "timeline": timeline})


@require_GET
@staff_page("crm.merge_customer")
def duplicates(request):
    return render(request, "crm/duplicates.html", {"groups": selectors.duplicate_groups()})


@require_http_methods(["GET", "POST"])
@staff_page("crm.merge_customer")
def merge(request):
    """Two records side by side; staff choose whose values survive per field group and say why."""
    params = request.POST if request.method == "POST" else request.GET
    winner_id, loser_id = params.get("winner", ""), params.get("loser", "")
    found = {
        c.public_id: c
        for c in selectors.customer_with_identities(
            selectors.active_customers().filter(public_id__in=[winner_id, loser_id])
        ).annotate(order_count=Count("orders"))
    }
    if winner_id not in found or loser_id not in found:
        messages.error(request, _("One of these customers does not exist or has already been merged."))
        return redirect("crm:duplicates")
    winner, loser = found[winner_id], found[loser_id]

    form = MergeForm(request.POST if request.method == "POST" else None, winner=winner, loser=loser)
    if request.method == "POST" and form.is_valid():
        try:
            merge_customers(
                winner=winner, loser=loser, reason=form.cleaned_data["reason"], actor=request.user, keep=form.keep()
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request,
                _("Merged %(loser)s into %(winner)s.") % {"loser": loser.member_number, "winner": winner.member_number},
            )
            return redirect("crm:customer_detail", public_id=winner.public_id)
    swap_url = reverse("crm:merge") + "?" + urlencode({"winner": loser.public_id, "loser": winner.public_id})
    status = 400 if form.errors else 200
    return render(
        request,
        "crm/merge.html",
        {"form": form, "winner": winner, "loser": loser, "sides": [winner, loser], "swap_url": swap_url},
        status=status,
    )


@require_POST
@login_required
def set_language(request):
    """Switch the signed-in staff member's language (stored on the user) and go back where they were."""
    form = LanguageForm(request.POST)
    if form.is_valid():
        set_staff_language(user=request.user, language=form.cleaned_data["language"])
    else:
        messages.error(request, _("Unsupported language."))
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("crm:home")
    return redirect(next_url)


def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return api_server_error(request)
    # No request context: whatever broke (the database, a context processor) must not break this page.
    return HttpResponseServerError(loader.get_template("500.html").render())
