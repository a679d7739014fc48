"""Staff pages of the crm core. Thin: reads through selectors and the panel registry, writes through
services. Other apps add panels, timeline entries and menu items through crm.registry, so this module
never imports them."""

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
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
from .exceptions import InvalidState
from .forms import CustomerForm, LanguageForm, MergeForm, SearchForm
from .models import ConsentSource, Customer
from .registry import customer_summaries, customer_timeline, panels_for
from .services import create_customer, merge_customers, set_staff_language, update_customer

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
    """One box for member number, phone (any format), email, name, kana, customer/order id or an
    EC/app account id; a total and pages of SEARCH_LIMIT. htmx asks for the result list alone while
    staff type; a plain submit (no JavaScript) gets the whole page."""
    form = SearchForm(request.GET)
    valid = form.is_valid()
    query = form.cleaned_data["q"].strip() if valid else ""
    page, card_hint = None, None
    if query:
        found = selectors.customer_search(query=query).annotate(
            has_merged_records=Exists(Customer.objects.filter(merged_into=OuterRef("pk")))
        )
        page = Paginator(found, SEARCH_LIMIT).get_page(form.cleaned_data.get("page") or 1)
        if not page.paginator.count:
            card_hint = selectors.card_number_hint(query)
    customers = list(page) if page else []
    via_merged = selectors.found_through_merged_record(query=query, customers=customers) if customers else set()
    summaries = customer_summaries(customers) if customers else {}
    results = [
        {"customer": c, "summary": summaries.get(c.pk, {}), "via_merged_card": c.pk in via_merged} for c in customers
    ]
    context = {
        "form": form,
        "query": query,
        "results": results,
        "page": page,
        "total": page.paginator.count if page else 0,
        "card_hint": card_hint,
        "show_points": any("points_balance" in r["summary"] for r in results),
        "limit": SEARCH_LIMIT,
    }
    partial = request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")
    template = "crm/_search_results.html" if partial else "crm/customer_search.html"
    response = render(request, template, context, status=200 if valid else 400)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "POST"])
@staff_page("crm.add_customer")
def customer_create(request):
    """Register a member at the counter: profile, address and consent. Before creating, members who
    may be the same person (same email or phone, or same kana and birth date) are shown, and staff
    confirm that this is someone else."""
    form = CustomerForm(request.POST or None)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        data = form.profile()
        duplicates = selectors.possible_duplicates(
            email=data["email"], phone=data["phone"],
            kana=data["family_name_kana"] + data["given_name_kana"], birth_date=data["birth_date"],
        )  # fmt: skip
        if not duplicates or request.POST.get("confirm_new") == "1":
            try:
                customer = create_customer(consent_source=ConsentSource.STORE, **data)
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(
                    request, _("Member registered: card number %(number)s.") % {"number": customer.member_number}
                )
                return redirect("crm:customer_detail", public_id=customer.public_id)
    status = 400 if request.method == "POST" else 200
    return render(request, "crm/customer_form.html", {"form": form, "duplicates": duplicates, "customer": None},
                  status=status)  # fmt: skip


@require_http_methods(["GET", "POST"])
@staff_page("crm.change_customer")
def customer_edit(request, public_id):
    """Edit a member's profile, address and consent (consent changes are stamped: time, staff)."""
    customer = customer_or_404(public_id)
    if customer.public_id != public_id:
        return redirect("crm:customer_edit", public_id=customer.public_id)
    form = CustomerForm(request.POST or None, initial=CustomerForm.initial_for(customer))
    if request.method == "POST" and form.is_valid():
        data = form.profile()
        try:
            update_customer(customer=customer, consent_source=ConsentSource.STORE, **data)
        except ValidationError as error:
            form.add_service_errors(error)
        except InvalidState as error:  # merged away while the form was open
            form.add_error(None, error.detail)
        else:
            messages.success(request, _("Customer details saved."))
            return redirect("crm:customer_detail", public_id=customer.public_id)
    status = 400 if request.method == "POST" else 200
    return render(request, "crm/customer_form.html", {"form": form, "customer": customer}, status=status)


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
