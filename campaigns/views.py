"""Marketers' pages (segment builder, campaigns, report) and the public pages a mail links to
(unsubscribe, open pixel, click redirect). Thin: reads through selectors, writes through services."""

import base64
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.db_routers import reporting_db
from crm.exceptions import DomainError
from crm.models import AccessLogEntry
from crm.privacy.access_log import log_access
from crm.selectors import get_customer
from crm.views import staff_page

from . import selectors
from .forms import CampaignForm, PreviewRulesForm, ScheduleForm, SegmentForm, TestSendForm
from .legal import with_legal_footer
from .models import Campaign, Segment
from .rendering import check_campaign_templates
from .segment_catalogue import describe_errors, field_catalogue, search_values
from .segments import SAMPLE_SIZE, preview_segment_reach
from .services import (
    cancel_campaign,
    click_target,
    create_campaign,
    create_segment,
    pause_campaign,
    recipient_for_token,
    record_click,
    record_open,
    resume_campaign,
    schedule_campaign,
    send_test_mail,
    start_campaign,
    unsubscribe_recipient,
    update_campaign,
    update_segment,
)
from .services.line_sending import render_line_text
from .services.pressure import in_quiet_hours
from .services.sending import SAMPLE_CUSTOMER, customer_contexts, featured_products, recipient_extras, render_for

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
LIST_LIMIT = 100


# --- Segments -----------------------------------------------------------------------------------
@require_GET
@staff_page("campaigns.view_segment")
def segment_list(request):
    segments = Segment.objects.select_related("created_by").order_by("-created_at")[:LIST_LIMIT]
    return render(request, "campaigns/segment_list.html", {"segments": segments})


@require_http_methods(["GET", "POST"])
@staff_page("campaigns.add_segment")
def segment_edit(request, public_id=None):
    segment = None
    if public_id:
        segment = selectors.segment_by_public_id(public_id)
        if segment is None:
            raise Http404(_("No segment with this id."))
    initial = {"name": segment.name, "rules": segment.rules} if segment else {"rules": {"all": []}}
    form = SegmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if segment:
                segment = update_segment(segment=segment, **form.cleaned_data)
            else:
                segment = create_segment(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            problems = error.message_dict
            if "name" in problems:
                form.add_error("name", problems.pop("name"))
            for problem in describe_errors(form.cleaned_data["rules"], problems):
                form.add_error("rules", f"{problem['where']}: {problem['message']}")
        else:
            messages.success(request, _("Segment saved."))
            return redirect("campaigns:segment_edit", public_id=segment.public_id)
    return render(
        request,
        "campaigns/segment_edit.html",
        {"form": form, "segment": segment, "catalogue": field_catalogue()},
        status=400 if form.errors else 200,
    )


@require_POST
@staff_page("campaigns.view_segment")
def segment_preview(request):
    """htmx: the live count (with how many an email would reach) and a sample while the marketer
    edits the rules; problems are said in words, each tagged with its rule's path for the builder."""
    form = PreviewRulesForm(request.POST)
    context = {"errors": [], "preview": None, "sample": []}
    if not form.is_valid():
        context["errors"] = [{"path": "", "where": _("Rules"), "message": m} for m in form.errors.get("rules", [])]
    else:
        rules = form.cleaned_data["rules"]
        try:
            preview = preview_segment_reach(rules, using=reporting_db())
        except ValidationError as error:
            context["errors"] = describe_errors(rules, error.message_dict)
        else:
            sample = list(selectors.customers_by_public_ids(preview.sample))
            context.update(preview=preview, sample=sample, sample_size=SAMPLE_SIZE)
    return render(request, "campaigns/_segment_preview.html", context)


@require_GET
@staff_page("campaigns.view_segment")
def segment_values(request, source):
    """JSON for the builder's pickers: up to 20 stores, tiers, categories, brands, SKUs… matching `q`."""
    results = search_values(source, request.GET.get("q", ""))
    if results is None:
        return JsonResponse({"detail": _("No such list of values.")}, status=404)
    return JsonResponse({"results": results})


# --- Campaigns ----------------------------------------------------------------------------------
@require_GET
@staff_page("campaigns.view_campaign")
def campaign_list(request):
    campaigns = selectors.campaigns_with_progress().order_by("-created_at")[:LIST_LIMIT]
    return render(request, "campaigns/campaign_list.html", {"campaigns": campaigns})


def _campaign_or_404(public_id):
    campaign = selectors.campaign_by_public_id(public_id)
    if campaign is None:
        raise Http404(_("No campaign with this id."))
    return campaign


@require_http_methods(["GET", "POST"])
@staff_page("campaigns.add_campaign")
def campaign_edit(request, public_id=None):
    campaign = _campaign_or_404(public_id) if public_id else None
    if campaign and not campaign.is_editable:
        messages.error(request, _("This campaign has been sent and can no longer be edited."))
        return redirect("campaigns:campaign_detail", public_id=campaign.public_id)
    form = CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            if campaign:
                campaign = update_campaign(campaign=campaign, **form.service_fields())
            else:
                campaign = create_campaign(actor=request.user, **form.service_fields())
        except ValidationError as error:
            form.add_service_errors(error)
        except DomainError as error:
            form.add_error(None, error.detail)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("campaigns:campaign_detail", public_id=campaign.public_id)
    return render(
        request,
        "campaigns/campaign_edit.html",
        {"form": form, "campaign": campaign},
        status=400 if form.errors else 200,
    )


def _report_context(campaign: Campaign) -> dict:
    counts = selectors.campaign_counts(campaign)
    attribution = selectors.campaign_attribution(campaign)
    done = counts["sent"] + counts["failed"]
    return {
        "campaign": campaign,
        "counts": counts,
        "attribution": attribution,
        "lift": selectors.lift(counts, attribution),
        "progress": round(100 * done / counts["recipients"]) if counts["recipients"] else 0,
        # Sending waits while the quiet hours last (campaigns/services/pressure.py).
        "quiet_until": in_quiet_hours(timezone.now()) if campaign.status == Campaign.Status.SENDING else None,
    }


@require_GET
@staff_page("campaigns.view_campaign")
def campaign_detail(request, public_id):
    campaign = _campaign_or_404(public_id)
    context = _report_context(campaign)
    if request.headers.get("HX-Request") == "true":
        return render(request, "campaigns/_campaign_report.html", context)
    context.update(schedule_form=ScheduleForm(), test_form=TestSendForm())
    return render(request, "campaigns/campaign_detail.html", context)


def _render_preview(campaign: Campaign, customer_id: str):
    """(rendered mail, customer, problems) for the preview as one customer or the sample customer."""
    try:
        check_campaign_templates(subject=campaign.subject, body_text=campaign.body_text, body_html=campaign.body_html)
    except ValidationError as error:
        return None, None, error.message_dict
    customer = get_customer(customer_id) if customer_id else None
    if customer_id and customer is None:
        return None, None, {"customer": [_("No customer with this id.")]}
    values = customer_contexts([customer])[customer.pk] if customer else SAMPLE_CUSTOMER
    try:
        rendered, urls = render_for(
            campaign, customer=values, customer_id=customer.public_id if customer else "cus_sample",
            products=featured_products(campaign), track=False, extra=recipient_extras(campaign, customer),
        )  # fmt: skip
        rendered = with_legal_footer(  # as it will be sent
            rendered, unsubscribe_url=urls["unsubscribe"], preferences_url=urls["preferences"]
        )
    except ValidationError as error:
        return None, customer, error.message_dict
    return rendered, customer, {}


@require_GET
@staff_page("campaigns.view_campaign")
def campaign_preview(request, public_id):
    """The mail as one customer (or a sample customer) would get it; template problems are listed
    instead, and the same problems block sending. The HTML body is not part of this page: it is
    loaded from campaign_preview_html into a sandboxed frame."""
    campaign = _campaign_or_404(public_id)
    customer_id = request.GET.get("customer", "").strip()
    rendered, customer, problems = _render_preview(campaign, customer_id)
    if customer is not None:
        log_access(request=request, customers=[customer], kind=AccessLogEntry.Kind.CAMPAIGN_PREVIEW)
    context = {"campaign": campaign, "problems": problems, "rendered": rendered, "customer": customer}
    if rendered is not None and rendered.html:
        query = f"?{urlencode({'customer': customer.public_id})}" if customer else ""
        context["html_url"] = reverse("campaigns:campaign_preview_html", args=[campaign.public_id]) + query
    if rendered is not None and campaign.channel != Campaign.Channel.EMAIL:
        values = customer_contexts([customer])[customer.pk] if customer else SAMPLE_CUSTOMER
        try:
            context["line_text"] = render_line_text(
                campaign, customer=values, customer_id=customer.public_id if customer else "cus_sample",
                products=featured_products(campaign),
            )  # fmt: skip
        except ValidationError as error:
            context.update(problems=error.message_dict, rendered=None)
    return render(request, "campaigns/_campaign_preview.html", context)


# Whatever a campaign's HTML holds (it may come from an API key with campaigns:write), it is shown
# as an opaque-origin document that may run no script, load nothing but images, fonts and inline
# styles, submit no form and be framed only by our own pages.
PREVIEW_HTML_POLICY = (
    "sandbox; default-src 'none'; script-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "font-src https: data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)


@require_GET
@staff_page("campaigns.view_campaign")
@xframe_options_sameorigin
@never_cache
def campaign_preview_html(request, public_id):
    """The HTML body alone, for the preview's sandboxed frame."""
    campaign = _campaign_or_404(public_id)
    rendered, _customer, _problems = _render_preview(campaign, request.GET.get("customer", "").strip())
    if rendered is None:
        raise Http404(_("No preview for this campaign and customer."))
    response = HttpResponse(rendered.html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = PREVIEW_HTML_POLICY
    response["Referrer-Policy"] = "no-referrer"  # the site's CSP middleware leaves a set policy alone
    return response


@require_POST
@staff_page("campaigns.add_campaign")
def campaign_test_send(request, public_id):
    campaign = _campaign_or_404(public_id)
    form = TestSendForm(request.POST)
    if form.is_valid():
        customer = None
        if form.cleaned_data["customer"]:
            customer = get_customer(form.cleaned_data["customer"])
            if customer is None:
                form.add_error("customer", _("No customer with this id."))
        if not form.errors:
            try:
                sent = send_test_mail(campaign=campaign, to=form.cleaned_data["to"], customer=customer)
            except ValidationError as error:
                for problems in error.message_dict.values():
                    form.add_error(None, problems)
            else:
                messages.success(request, _("Test mail sent to %(n)d address(es).") % {"n": sent})
                return redirect("campaigns:campaign_detail", public_id=campaign.public_id)
    context = _report_context(campaign)
    context.update(schedule_form=ScheduleForm(), test_form=form)
    return render(request, "campaigns/campaign_detail.html", context, status=400)


_ACTIONS = {
    "send": start_campaign,
    "pause": pause_campaign,
    "resume": resume_campaign,
    "cancel": cancel_campaign,
}
# What staff read after each action (the action's code never reaches the page).
_DONE = {
    "schedule": _("The campaign is scheduled."),
    "send": _("The campaign is being sent."),
    "pause": _("The campaign is paused."),
    "resume": _("The campaign is sending again."),
    "cancel": _("The campaign is cancelled."),
}


def _field_label(name: str) -> str:
    """What staff call a campaign field in an error (its form label), never the field's code."""
    form_field = ScheduleForm.base_fields.get(name) or CampaignForm.base_fields.get(name)
    return str(form_field.label) if form_field is not None and form_field.label else name


@require_POST
@staff_page("campaigns.send_campaign")
def campaign_action(request, public_id):
    campaign = _campaign_or_404(public_id)
    action = request.POST.get("action", "")
    try:
        if action == "schedule":
            form = ScheduleForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors.get_json_data())
            schedule_campaign(campaign=campaign, at=form.cleaned_data["scheduled_at"])
        elif action in _ACTIONS:
            _ACTIONS[action](campaign=campaign)
        else:
            raise Http404(_("Unknown action."))
    except ValidationError as error:
        for field, problems in error.message_dict.items():
            for problem in problems:
                messages.error(request, f"{_field_label(field)}: {problem}" if field != "__all__" else problem)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _DONE[action])
    return redirect("campaigns:campaign_detail", public_id=campaign.public_id)


# --- Public pages a mail links to (no login) ---------------------------------------------------
@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" with no cookie or CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET shows a confirmation button (link scanners must not unsubscribe people); POST unsubscribes,
    from that button or from the mail client's one-click."""
    recipient, _payload = recipient_for_token("unsubscribe", token)
    if recipient is None:
        return _unsubscribe_journey_mail(request, token)
    context = {"campaign": recipient.campaign, "line": recipient.channel == recipient.Channel.LINE}
    if request.method == "POST":
        unsubscribe_recipient(recipient=recipient)
        return render(request, "campaigns/unsubscribe_done.html", context)
    return render(request, "campaigns/unsubscribe_confirm.html", {**context, "token": token})


def _unsubscribe_journey_mail(request, token):
    from .services.journeys import journey_message_for_token, unsubscribe_journey_mail

    message = journey_message_for_token(token)
    if message is None:
        return render(request, "campaigns/unsubscribe_invalid.html", status=404)
    context = {"campaign": message.step.journey, "line": message.channel == message.Channel.LINE}
    if request.method == "POST":
        unsubscribe_journey_mail(message=message)
        return render(request, "campaigns/unsubscribe_done.html", context)
    return render(request, "campaigns/unsubscribe_confirm.html", {**context, "token": token})


@never_cache
@require_GET
def track_open(request, token):
    recipient, _payload = recipient_for_token("open", token)
    if recipient is None:
        return HttpResponse(PIXEL, content_type="image/gif", status=404)
    record_open(recipient=recipient)
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def track_click(request, token):
    recipient, payload = recipient_for_token("click", token)
    url = click_target(recipient=recipient, payload=payload) if recipient is not None else None
    if url is None:
        return render(request, "campaigns/link_invalid.html", status=404)
    record_click(recipient=recipient, url=url)
    return HttpResponseRedirect(url)
