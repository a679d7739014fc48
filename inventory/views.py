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

from crm.exceptions import DomainError
from crm.models import Order, Product, Store
from crm.selectors import customer_by_member_number, fulfilment_queue
from crm.services import cancel_order, collect_order, mark_order_ready, ship_order
from crm.views import staff_page

from . import selectors
from .forms import (
    CancelOrderForm,
    CollectOrderForm,
    ReservationForm,
    ResolveDiscrepancyForm,
    ShipOrderForm,
    StockSearchForm,
)
from .models import Discrepancy, Reservation
from .services import cancel_reservation, create_reservation, fulfil_reservation, resolve_discrepancy

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
    return render(
        request,
        "inventory/reservations.html",
        {"store": store, "stores": _store_choices(), "reservations": items, "form": ReservationForm()},
    )


def _back_to_list(reservation: Reservation):
    return redirect(f"{reverse('inventory:reservations')}?store={reservation.store.code}")


def _reservation_or_404(public_id: str) -> Reservation:
    reservation = Reservation.objects.select_related("store").filter(public_id=public_id).first()
    if reservation is None:
        raise Http404(_("No reservation with this id."))
    return reservation


@require_POST
@staff_page("inventory.change_reservation")
def reservation_fulfil(request, public_id):
    reservation = _reservation_or_404(public_id)
    try:
        fulfil_reservation(reservation=reservation, actor=request.user)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("Handed over: %(code)s.") % {"code": reservation.pickup_code})
    return _back_to_list(reservation)


@require_POST
@staff_page("inventory.change_reservation")
def reservation_cancel(request, public_id):
    reservation = _reservation_or_404(public_id)
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
        customer = customer_by_member_number(data["member_number"])
        product = Product.objects.filter(sku=data["sku"].strip()).first()
        if customer is None:
            form.add_error("member_number", _("No member with this number."))
        if product is None:
            form.add_error("sku", _("Unknown SKU."))
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
    context = {"store": store, "stores": _store_choices(), "reservations": items, "form": form}
    return render(request, "inventory/reservations.html", context, status=400)


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
        resolve_discrepancy(discrepancy=discrepancy, actor=request.user, note=form.cleaned_data["note"])
        messages.success(request, _("Marked as resolved."))
    else:
        messages.error(request, _("The note is too long."))
    return redirect(f"{reverse('inventory:discrepancies')}?store={discrepancy.store.code}")


# --- the store's fulfilment queue --------------------------------------------------------------
@require_GET
@staff_page("inventory.view_reservation")
def fulfilment(request):
    """Ship-from-store orders to pick, pack and ship; pickups to prepare; the ready shelf; today's try-ons."""
    store = _current_store(request)
    queue = fulfilment_queue(store=store) if store else {"to_ship": [], "to_prepare": [], "ready": []}
    try_ons = list(selectors.try_ons_for_store_day(store=store)) if store else []
    context = {"store": store, "stores": _store_choices(), "try_ons": try_ons, **queue,
               "ship_form": ShipOrderForm(), "collect_form": CollectOrderForm()}  # fmt: skip
    return render(request, "inventory/fulfilment.html", context)


def _order_or_404(public_id: str) -> Order:
    order = Order.objects.select_related("store", "fulfilled_from").filter(public_id=public_id).first()
    if order is None:
        raise Http404(_("No order with this id."))
    return order


def _back_to_queue(order: Order):
    store = order.fulfilled_from or order.store
    return redirect(f"{reverse('inventory:fulfilment')}?store={store.code}#{order.public_id}")


def _order_action(request, public_id, form_class, action, done_message):
    order = _order_or_404(public_id)
    form = form_class(request.POST) if form_class else None
    if form is not None and not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label}: {' '.join(errors)}")
        return _back_to_queue(order)
    try:
        action(order=order, actor=request.user, **(form.cleaned_data if form else {}))
    except ValidationError as error:
        messages.error(request, " ".join(m for ms in error.message_dict.values() for m in ms))
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, done_message % {"order": order.public_id})
    return _back_to_queue(order)


@require_POST
@staff_page("inventory.change_reservation")
def order_ship(request, public_id):
    return _order_action(request, public_id, ShipOrderForm, ship_order, _("Shipped: %(order)s."))


@require_POST
@staff_page("inventory.change_reservation")
def order_ready(request, public_id):
    return _order_action(request, public_id, None, mark_order_ready, _("On the pickup shelf: %(order)s."))


@require_POST
@staff_page("inventory.change_reservation")
def order_collect(request, public_id):
    return _order_action(request, public_id, CollectOrderForm, collect_order, _("Handed over: %(order)s."))


@require_POST
@staff_page("inventory.change_reservation")
def order_cancel(request, public_id):
    return _order_action(request, public_id, CancelOrderForm, cancel_order, _("Cancelled: %(order)s."))
