"""Staff pages of inventory: stock lookup for a store, today's reservations with hand-over/cancel,
new reservations, discrepancy review, and the reservations panel on the customer 360 page.
Thin: reads through selectors, writes through services."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import selectors as crm_selectors
from crm.exceptions import DomainError
from crm.models import Store
from crm.views import staff_page

from . import selectors
from .forms import ReservationForm, ResolveDiscrepancyForm, StockSearchForm, TransferForm
from .models import Discrepancy, Reservation, Transfer
from .services import (
    cancel_reservation,
    create_reservation,
    fulfil_reservation,
    receive_transfer,
    resolve_discrepancy,
    ship_transfer,
)

PANEL_LIMIT = 10


def reservations_panel_context(customer, request) -> dict:
    return {"reservations": list(selectors.customer_reservations(customer=customer, limit=PANEL_LIMIT))}


def _current_store(request) -> Store | None:
    """The store the page is about: ?store=CODE if given, else the staff member's own store."""
    code = request.GET.get("store") or request.POST.get("store")
    if code:
        return Store.objects.filter(code=code, active=True).first()
    return request.user.store


def _store_choices():
    return list(Store.objects.filter(active=True).order_by("kind", "code").only("code", "name", "kind"))


@require_GET
@staff_page("inventory.view_stocklevel")
def stock(request):
    form = StockSearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    store = _current_store(request)
    products = selectors.product_search(query=query) if query else []
    rows = []
    if products:
        here = selectors.stock_at(store=store, products=products) if store else {}
        nearby = selectors.nearby_stock(store=store, products=products) if store else []
        by_product = {}
        for level in nearby:
            by_product.setdefault(level.product_id, []).append(level)
        rows = [{"product": p, "here": here.get(p.pk), "nearby": by_product.get(p.pk, [])} for p in products]
    return render(
        request,
        "inventory/stock.html",
        {"form": form, "query": query, "store": store, "stores": _store_choices(), "rows": rows},
    )


@require_GET
@staff_page("inventory.view_reservation")
def reservations(request):
    store = _current_store(request)
    items = list(selectors.reservations_for_store_day(store=store)) if store else []
    # From the customer page: "Hold an item" opens the form with the customer filled in.
    typed = (request.GET.get("customer") or "")[:100]
    form = ReservationForm(initial={"customer": typed} if typed else None)
    return render(
        request,
        "inventory/reservations.html",
        {"store": store, "stores": _store_choices(), "reservations": items, "form": form, "open_form": bool(typed)},
    )


def _back_to_list(reservation: Reservation):
    return redirect(f"{reverse('inventory:reservations')}?store={reservation.store.code}")


def _reservation_or_404(public_id: str) -> Reservation:
    reservation = Reservation.objects.select_related("store").filter(public_id=public_id).first()
    if reservation is None:
        raise Http404(_("No reservation with this id."))
    return reservation


def _confirm_page(request, reservation: Reservation, action: str):
    reservation = Reservation.objects.select_related("store", "product", "customer").get(pk=reservation.pk)
    return render(request, "inventory/reservation_confirm.html", {"reservation": reservation, "action": action})


@require_http_methods(["GET", "POST"])
@staff_page("inventory.change_reservation")
def reservation_fulfil(request, public_id):
    """Hand over in two steps: the page names the customer, item and code; the clerk confirms."""
    reservation = _reservation_or_404(public_id)
    if request.method == "GET" or request.POST.get("confirm") != "1":
        return _confirm_page(request, reservation, "fulfil")
    try:
        fulfil_reservation(reservation=reservation, actor=request.user)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("Handed over: %(code)s.") % {"code": reservation.pickup_code})
    return _back_to_list(reservation)


@require_http_methods(["GET", "POST"])
@staff_page("inventory.change_reservation")
def reservation_cancel(request, public_id):
    """Cancel in two steps, like the hand-over."""
    reservation = _reservation_or_404(public_id)
    if request.method == "GET" or request.POST.get("confirm") != "1":
        return _confirm_page(request, reservation, "cancel")
    try:
        cancel_reservation(reservation=reservation, actor=request.user)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("Cancelled: %(code)s.") % {"code": reservation.pickup_code})
    return _back_to_list(reservation)


@require_http_methods(["POST"])
@staff_page("inventory.add_reservation")
def reservation_create(request):
    store = _current_store(request)
    form = ReservationForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        customer, customers = _customer_for_typed(data["customer"])
        product, products = selectors.product_for_typed(data["sku"])
        if customer is None:
            form.add_error("customer", _picker_error(len(customers), _("No member matches this.")))
        if product is None:
            form.add_error("sku", _picker_error(len(products), _("Unknown SKU.")))
        if store is None:
            form.add_error(None, _("Choose a store."))
    if form.is_valid():
        try:
            reservation = create_reservation(
                customer=customer, store=store, product=product, quantity=data["quantity"], kind=data["kind"],
                slot_start=data["slot_start"], actor=request.user,
            )  # fmt: skip
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except DomainError as error:
            form.add_error(None, error.detail)
        else:
            messages.success(request, _("Reserved. Pickup code: %(code)s.") % {"code": reservation.pickup_code})
            return _back_to_list(reservation)
    items = list(selectors.reservations_for_store_day(store=store)) if store else []
    context = {"store": store, "stores": _store_choices(), "reservations": items, "form": form, "open_form": True}
    return render(request, "inventory/reservations.html", context, status=400)


PICKER_LIMIT = 8


def _customer_for_typed(typed: str):
    """The one member that what was typed finds, as the staff search finds them (a card number with
    spaces, a phone in any format, an email, a name); (None, matches) when it is not exactly one."""
    found = list(crm_selectors.customer_search(query=typed)[: PICKER_LIMIT + 1]) if typed.strip() else []
    return (found[0] if len(found) == 1 else None), found


def _picker_error(matches: int, none_message: str) -> str:
    if matches == 0:
        return none_message
    return _("%(n)s match: pick one from the suggestions or type more.") % {
        "n": f"{PICKER_LIMIT}+" if matches > PICKER_LIMIT else matches
    }


@require_GET
@staff_page("inventory.add_reservation")
def pick_customer(request):
    """Suggestions for the customer field (htmx fills a <datalist> while staff type)."""
    typed = (request.GET.get("customer") or "")[:100]
    _customer, found = _customer_for_typed(typed) if len(typed.strip()) >= 2 else (None, [])
    return render(request, "inventory/_pick_customers.html", {"customers": found[:PICKER_LIMIT]})


@require_GET
@staff_page("inventory.view_stocklevel")
def pick_product(request):
    """Suggestions for a SKU field."""
    typed = (request.GET.get("sku") or "")[:64]
    _product, found = selectors.product_for_typed(typed) if typed.strip() else (None, [])
    return render(request, "inventory/_pick_products.html", {"products": found[:PICKER_LIMIT]})


@require_GET
@staff_page("inventory.view_discrepancy")
def discrepancies(request):
    store = _current_store(request)
    items = list(selectors.open_discrepancies(store=store)[:200])
    return render(
        request,
        "inventory/discrepancies.html",
        {"store": store, "stores": _store_choices(), "discrepancies": items, "form": ResolveDiscrepancyForm()},
    )


@require_POST
@staff_page("inventory.change_discrepancy")
def discrepancy_resolve(request, public_id):
    discrepancy = Discrepancy.objects.select_related("store").filter(public_id=public_id).first()
    if discrepancy is None:
        raise Http404(_("No such discrepancy."))
    form = ResolveDiscrepancyForm(request.POST)
    if form.is_valid():
        try:
            resolve_discrepancy(
                discrepancy=discrepancy, actor=request.user, note=form.cleaned_data["note"],
                counted=form.cleaned_data["counted"],
            )  # fmt: skip
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _("Recounted: %(n)d units of %(sku)s on hand.")
                % {"n": form.cleaned_data["counted"], "sku": discrepancy.product.sku},
            )
            return redirect(f"{reverse('inventory:discrepancies')}?store={discrepancy.store.code}")
    store = discrepancy.store
    items = list(selectors.open_discrepancies(store=store)[:200])
    context = {"store": store, "stores": _store_choices(), "discrepancies": items, "form": form,
               "failed": discrepancy.public_id}  # fmt: skip
    return render(request, "inventory/discrepancies.html", context, status=400)


# --- transfers ----------------------------------------------------------------------------------
def _transfers_page(request, store, form, status=200):
    lists = selectors.transfers_for_store(store=store) if store else {}
    context = {"store": store, "stores": _store_choices(), "form": form, **lists}
    return render(request, "inventory/transfers.html", context, status=status)


@require_GET
@staff_page("inventory.view_transfer")
def transfers(request):
    """Stock moving between locations: what is on its way here (receive it), what this store sent,
    and a form to send stock to another store or the EC warehouse."""
    store = _current_store(request)
    return _transfers_page(request, store, TransferForm(from_store=store))


@require_POST
@staff_page("inventory.add_transfer")
def transfer_ship(request):
    store = _current_store(request)
    form = TransferForm(request.POST, from_store=store)
    if form.is_valid():
        product, products = selectors.product_for_typed(form.cleaned_data["sku"])
        if product is None:
            form.add_error("sku", _picker_error(len(products), _("Unknown SKU.")))
        if store is None:
            form.add_error(None, _("Choose a store."))
    if form.is_valid():
        data = form.cleaned_data
        try:
            transfer = ship_transfer(
                from_store=store, to_store=data["to_store"], product=product, quantity=data["quantity"],
                note=data["note"], actor=request.user,
            )  # fmt: skip
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except DomainError as error:
            for field, errors in (error.errors or {None: [error.detail]}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _("Sent %(n)d × %(sku)s to %(store)s.")
                % {"n": transfer.quantity, "sku": product.sku, "store": transfer.to_store.name},
            )
            return redirect(f"{reverse('inventory:transfers')}?store={store.code}")
    return _transfers_page(request, store, form, status=400)


@require_POST
@staff_page("inventory.change_transfer")
def transfer_receive(request, public_id):
    transfer = Transfer.objects.select_related("to_store", "product").filter(public_id=public_id).first()
    if transfer is None:
        raise Http404(_("No transfer with this id."))
    receive_transfer(transfer=transfer, actor=request.user)
    messages.success(request, _("Received %(n)d × %(sku)s.") % {"n": transfer.quantity, "sku": transfer.product.sku})
    return redirect(f"{reverse('inventory:transfers')}?store={transfer.to_store.code}")
