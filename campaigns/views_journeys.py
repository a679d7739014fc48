"""Marketers' pages for journeys and offers (coupons), and the public pages a journey mail links to
(preference centre, coupon QR code). Thin: reads through selectors, writes through services."""

import io
import json

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.exceptions import DomainError
from crm.selectors import customer_by_member_number, get_customer
from crm.views import staff_page

from . import selectors
from .forms_journeys import (
    STEP_FIELDS,
    IssueCodeForm,
    JourneyForm,
    OfferForm,
    PreferenceForm,
    StepFormSet,
    add_service_errors,
    line_offered,
    steps_of,
)
from .models import Coupon, Journey, MailPreference, Offer
from .services.coupons import create_offer, format_code, issue_coupon
from .services.journeys import (
    activate_journey,
    pause_journey,
    save_journey,
    update_mail_preferences,
    withdraw_email_consent,
)
from .tokens import read_token

LIST_LIMIT = 100


def _journey_or_404(public_id: str) -> Journey:
    journey = Journey.objects.select_related("segment", "line_account").filter(public_id=public_id).first()
    if journey is None:
        raise Http404(_("No journey with this id."))
    return journey


@require_GET
@staff_page("campaigns.view_journey")
def journey_list(request):
    journeys = Journey.objects.annotate(
        entered=Count("enrollments"), in_progress=Count("enrollments", filter=Q(enrollments__state="active"))
    ).order_by("-created_at")[:LIST_LIMIT]
    return render(request, "campaigns/journey_list.html", {"journeys": journeys})


@require_http_methods(["GET", "POST"])
@staff_page("campaigns.change_journey")
def journey_edit(request, public_id=None):
    journey = _journey_or_404(public_id) if public_id else Journey()
    initial_steps = [
        {"kind": s.kind, "wait_days": s.wait_days or None, "offer": s.offer, "subject": s.subject,
         "body_text": s.body_text, "body_html": s.body_html, "line_text": s.line_text}
        for s in journey.steps.all()
    ] if journey.pk else []  # fmt: skip
    form = JourneyForm(request.POST or None, instance=journey)
    formset = StepFormSet(
        request.POST or None, initial=initial_steps, prefix="steps", form_kwargs={"line_offered": line_offered(journey)}
    )
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        try:
            journey = save_journey(journey=form.instance, steps=steps_of(formset), actor=request.user)
        except ValidationError as exc:
            add_service_errors(form, formset, exc)
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, _("Journey saved."))
            return redirect("campaigns:journey_detail", journey.public_id)
    return render(
        request, "campaigns/journey_edit.html",
        {"form": form, "formset": formset, "journey": journey, "step_fields": json.dumps(STEP_FIELDS)},
    )  # fmt: skip


@require_GET
@staff_page("campaigns.view_journey")
def journey_detail(request, public_id):
    journey = _journey_or_404(public_id)
    report = selectors.journey_report(journey)
    return render(request, "campaigns/journey_detail.html", {"journey": journey, **report})


@require_POST
@staff_page("campaigns.change_journey")
def journey_action(request, public_id):
    journey = _journey_or_404(public_id)
    action = request.POST.get("action")
    try:
        if action == "activate":
            activate_journey(journey=journey)
            messages.success(request, _("The journey is active: the next run (every 10 minutes) enters customers."))
        elif action == "pause":
            pause_journey(journey=journey)
            messages.success(request, _("The journey is paused."))
        else:
            messages.error(request, _("Unknown action."))
    except ValidationError as exc:
        messages.error(request, " ".join(m for ms in exc.message_dict.values() for m in ms))
    except DomainError as exc:
        messages.error(request, exc.detail)
    return redirect("campaigns:journey_detail", journey.public_id)


# --- Offers -------------------------------------------------------------------------------------
@require_GET
@staff_page("campaigns.view_offer")
def offer_list(request):
    offers = Offer.objects.annotate(codes=Count("coupons")).order_by("-created_at")[:LIST_LIMIT]
    return render(request, "campaigns/offer_list.html", {"offers": offers})


@require_http_methods(["GET", "POST"])
@staff_page("campaigns.add_offer")
def offer_new(request):
    form = OfferForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            offer = create_offer(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Offer created."))
            return redirect("campaigns:offer_detail", offer.public_id)
    return render(request, "campaigns/offer_edit.html", {"form": form})


@require_http_methods(["GET", "POST"])
@staff_page("campaigns.view_offer")
def offer_detail(request, public_id):
    offer = selectors.offer_by_public_id(public_id)
    if offer is None:
        raise Http404(_("No offer with this id."))
    form = IssueCodeForm(request.POST or None)
    issued = None
    if request.method == "POST":
        if not request.user.has_perm("campaigns.add_coupon"):
            return HttpResponse(status=403)
        if form.is_valid():
            customer = None
            ref = form.cleaned_data["customer"].strip()
            if ref:
                customer = get_customer(ref) or customer_by_member_number(ref)
                if customer is None:
                    form.add_error("customer", _("Unknown customer."))
            if not form.errors:
                issued = issue_coupon(offer=offer, customer=customer, max_uses=form.cleaned_data["max_uses"])
                form = IssueCodeForm()
    coupons = Coupon.objects.filter(offer=offer).select_related("customer").order_by("-created_at")[:LIST_LIMIT]
    return render(
        request, "campaigns/offer_detail.html",
        {"offer": offer, "form": form, "coupons": coupons, "issued": issued,
         "issued_printed": format_code(issued.code) if issued else "", **selectors.offer_report(offer)},
    )  # fmt: skip


# --- Public pages a journey mail links to --------------------------------------------------------
@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request, token):
    """The preference centre: which mails, how many a week, or none at all (unsubscribe-all)."""
    payload = read_token("preferences", token)
    customer = get_customer(payload["u"]) if payload else None
    if customer is None:
        return render(request, "campaigns/unsubscribe_invalid.html", status=404)
    current = MailPreference.objects.filter(customer=customer).first()
    initial = {
        "topics": current.topics if current else list(MailPreference.Topic.values),
        "max_per_week": current.max_per_week if current else None,
    }
    form = PreferenceForm(request.POST or None, initial=initial)
    saved = False
    if request.method == "POST" and form.is_valid():
        try:
            update_mail_preferences(
                customer=customer, topics=form.cleaned_data["topics"], max_per_week=form.cleaned_data["max_per_week"]
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            saved = True
    return render(
        request, "campaigns/preferences.html",
        {"form": form, "saved": saved, "opted_in": customer.email_opt_in, "token": token},
    )  # fmt: skip


@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe_all(request, token):
    """From the preference centre: GET asks, POST unsubscribes (link scanners must not)."""
    payload = read_token("preferences", token)
    customer = get_customer(payload["u"]) if payload else None
    if customer is None:
        return render(request, "campaigns/unsubscribe_invalid.html", status=404)
    if request.method == "POST":
        withdraw_email_consent(customer=customer)
        return render(request, "campaigns/unsubscribe_done.html", {"line": False})
    return render(request, "campaigns/unsubscribe_confirm.html", {"line": False, "action": request.path})


@require_GET
def coupon_qr(request, token):
    """The coupon's code as a QR code (SVG) for the till's scanner; the link is signed."""
    payload = read_token("coupon", token)
    if payload is None or not Coupon.objects.filter(code=payload["c"]).exists():
        raise Http404
    buffer = io.BytesIO()
    qrcode.make(payload["c"], image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2).save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=86400"
    return response
