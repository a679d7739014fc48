"""Staff pages of the loyalty app: the counter form of the customer panel and the finance page."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.exceptions import DomainError
from crm.models import SalesChannel
from crm.views import customer_or_404, staff_page

from . import conf, selectors
from .exceptions import InsufficientPoints, ReferenceConflict
from .forms import CounterForm
from .models import PointAdjustment
from .services import approve_point_adjustment, redeem_points, reject_point_adjustment, submit_point_adjustment


@require_POST
@staff_page("loyalty.add_pointtransaction")
def counter(request, public_id):
    """Redeem or award points for the customer at the counter; both keep the staff member and reason."""
    customer = customer_or_404(public_id)
    form = CounterForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        store = request.user.store
        try:
            if data["action"] == CounterForm.REDEEM:
                txn, created = redeem_points(
                    customer=customer, points=data["points"], channel=SalesChannel.STORE, store=store,
                    reference=data["reference"], actor=request.user, reason=data["reason"],
                )  # fmt: skip
            else:  # an award above the approval limit waits for an admin, like one through the API
                txn, created = submit_point_adjustment(
                    customer=customer, points=data["points"], reason=data["reason"], actor=request.user,
                    reference=data["reference"], channel=SalesChannel.STORE, store=store,
                )  # fmt: skip
        except InsufficientPoints as error:
            form.add_error("points", error.detail)
        except ReferenceConflict:
            form.add_error(None, _("This form was already sent with other values. Reload the page."))
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if isinstance(txn, PointAdjustment):
                messages.info(
                    request, _("%(points)+d points are waiting for approval by an admin.") % {"points": txn.points}
                )
            elif created:
                messages.success(request, _("%(points)+d points recorded.") % {"points": txn.points})
            return redirect(reverse("crm:customer_detail", args=[customer.public_id]) + "#panel-loyalty")
    return render(request, "loyalty/counter.html", {"customer": customer, "form": form}, status=400)


@require_GET
@staff_page("loyalty.view_finance")
def finance(request):
    """Outstanding points as a liability by month of expiry; points issued, redeemed, expired,
    reversed and adjusted per month and channel."""
    liability = selectors.points_liability()
    return render(
        request,
        "loyalty/finance.html",
        {
            "liability": liability,
            "total_points": sum(row.points for row in liability),
            "total_yen": sum(row.yen for row in liability),
            "point_value": conf.point_value_yen(),
            "activity": selectors.points_activity(),
        },
    )


_DECISIONS = {"approve": approve_point_adjustment, "reject": reject_point_adjustment}


@require_http_methods(["GET", "POST"])
@staff_page("loyalty.approve_pointadjustment")
def approvals(request):
    """Point adjustments waiting for a second person: an admin who did not ask for them."""
    if request.method == "POST":
        decide = _DECISIONS.get(request.POST.get("decision", ""))
        if decide is None:
            return HttpResponseBadRequest(_("Choose approve or reject."))
        adjustment = PointAdjustment.objects.filter(public_id=request.POST.get("adjustment", "")).first()
        if adjustment is None:
            raise Http404(_("No adjustment with this id."))
        try:
            decide(adjustment=adjustment, approver=request.user)
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, _("Done: %(id)s.") % {"id": adjustment.public_id})
        return redirect("loyalty:approvals")
    pending = (
        PointAdjustment.objects.filter(status=PointAdjustment.Status.PENDING)
        .select_related("customer", "store", "requested_by", "requested_by_key")
        .order_by("created_at")[:200]
    )
    return render(request, "loyalty/approvals.html", {"pending": pending})
