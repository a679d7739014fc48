"""Staff pages of the loyalty app: the counter form of the customer panel and the finance page."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.models import SalesChannel
from crm.views import customer_or_404, staff_page

from . import conf, selectors
from .exceptions import InsufficientPoints, ReferenceConflict
from .forms import CounterForm
from .services import adjust_points, redeem_points


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
            else:
                txn, created = adjust_points(
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
            if created:
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
