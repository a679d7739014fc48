"""Staff pages of the contact hub (agent inbox, ticket page, call log and counter notes) and the two
public pages (contact form, CSAT survey). Thin: read through selectors, write through services."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import selectors as crm_selectors
from crm.exceptions import TooManyAttempts
from crm.ratelimit import AttemptLimit
from crm.registry import customer_timeline
from crm.security import client_ip
from crm.views import customer_or_404, staff_page

from . import selectors, services
from .conf import hub_setting
from .forms import (
    BodyForm,
    ContactForm,
    CsatForm,
    InboxFilterForm,
    LinkLeadForm,
    MergeTicketForm,
    ReplyForm,
    TicketUpdateForm,
)
from .models import Lead, Ticket
from .services.tickets import ticket_for_csat_token

INBOX_PAGE = 50
TIMELINE_LIMIT = 30


@require_GET
@staff_page("channels_hub.view_ticket")
def inbox(request):
    form = InboxFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    filters = selectors.InboxFilters(
        queue=data.get("queue") or "mine", status=data.get("status", ""), channel=data.get("channel", ""),
        priority=data.get("priority", ""), q=data.get("q", ""),
    )  # fmt: skip
    tickets = list(selectors.inbox(user=request.user, filters=filters)[: INBOX_PAGE + 1])
    context = {
        "form": form, "filters": filters, "tickets": tickets[:INBOX_PAGE], "more": len(tickets) > INBOX_PAGE,
        "now": timezone.now(), "mentions": selectors.unseen_mention_count(request.user),
        "queues": form.fields["queue"].choices,
    }  # fmt: skip
    return render(request, "channels_hub/inbox.html", context, status=200 if form.is_valid() else 400)


def _ticket_or_404(public_id: str) -> Ticket:
    ticket = selectors.ticket_detail(public_id)
    if ticket is None:
        raise Http404(_("No ticket with this id."))
    return ticket


def _render_ticket(request, ticket: Ticket, *, status: int = 200, **forms):
    customer = ticket.customer or (ticket.lead.customer if ticket.lead_id and ticket.lead.customer_id else None)
    messages_list = list(ticket.messages.all())
    context = {
        "ticket": ticket,
        "messages_list": messages_list,
        "failed_replies": [m for m in messages_list if m.direction == "out" and m.delivery_status == m.Delivery.FAILED],
        "reply_route": services.reply_route(ticket),
        "customer": customer,
        "timeline": customer_timeline(customer=customer, limit=TIMELINE_LIMIT) if customer else [],
        "other_tickets": [t for t in selectors.customer_tickets(customer=customer) if t.pk != ticket.pk]
        if customer
        else [],
        "canned": list(selectors.canned_replies(request.user)),
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "note_form": forms.get("note_form") or BodyForm(),
        "call_form": forms.get("call_form") or BodyForm(),
        "update_form": forms.get("update_form")
        or TicketUpdateForm(
            initial={
                "status": ticket.status,
                "priority": ticket.priority,
                "team": ticket.team_id,
                "assignee": ticket.assignee_id,
                "category": ticket.category,
                "tags": ", ".join(ticket.tags),
            }
        ),
        "merge_form": forms.get("merge_form") or MergeTicketForm(),
        "link_form": forms.get("link_form") or LinkLeadForm(),
        "now": timezone.now(),
        "can_change": request.user.has_perm("channels_hub.change_ticket"),
    }
    return render(request, "channels_hub/ticket.html", context, status=status)


@require_GET
@staff_page("channels_hub.view_ticket")
def ticket_detail(request, public_id):
    ticket = _ticket_or_404(public_id)
    if ticket.merged_into_id:
        messages.info(request, _("Ticket %(old)s was merged into this one.") % {"old": ticket.public_id})
        return redirect("channels_hub:ticket", public_id=ticket.merged_into.public_id)
    services.mark_mentions_seen(user=request.user, ticket=ticket)
    return _render_ticket(request, ticket)


def _post_action(request, public_id, form_class, form_key, action, done_message):
    """Validate the form and run the service; the action may return the ticket to show next. Errors
    re-render the ticket page with 400, nothing written."""
    ticket = _ticket_or_404(public_id)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            result = action(ticket, form.cleaned_data)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, done_message)
            target = result if isinstance(result, Ticket) else ticket
            return redirect("channels_hub:ticket", public_id=target.public_id)
    return _render_ticket(request, ticket, status=400, **{form_key: form})


def _delivery_outcome(request, message) -> None:
    """Say plainly whether the reply reached the customer (with an eager task queue it is known at
    once; with workers it is still on its way)."""
    message.refresh_from_db(fields=["delivery_status", "delivery_error", "channel"])
    channel = message.get_channel_display()
    if message.delivery_status == message.Delivery.FAILED:
        messages.error(
            request,
            _("The reply could not be delivered by %(channel)s: %(error)s. Send it again or by email below.")
            % {"channel": channel, "error": message.delivery_error or _("unknown error")},
        )
    elif message.delivery_status == message.Delivery.SENT:
        messages.success(request, _("Reply delivered by %(channel)s.") % {"channel": channel})
    elif message.delivery_status == message.Delivery.PENDING:
        messages.success(request, _("Reply queued for delivery by %(channel)s.") % {"channel": channel})
    else:
        messages.success(request, _("Reply recorded (%(channel)s).") % {"channel": channel})


@require_POST
@staff_page("channels_hub.change_ticket")
def reply(request, public_id):
    ticket = _ticket_or_404(public_id)
    form = ReplyForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            message = services.reply_to_ticket(
                ticket=ticket, user=request.user, body=data["body"], channel=data["channel"] or None
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            _delivery_outcome(request, message)
            return redirect("channels_hub:ticket", public_id=message.ticket.public_id)
    return _render_ticket(request, ticket, status=400, reply_form=form)


@require_POST
@staff_page("channels_hub.change_ticket")
def retry_reply(request, public_id, message_id):
    ticket = _ticket_or_404(public_id)
    message = ticket.messages.filter(public_id=message_id).first()
    if message is None:
        raise Http404(_("No message with this id."))
    try:
        message = services.retry_reply(message=message, user=request.user, by_email=request.POST.get("by") == "email")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        _delivery_outcome(request, message)
    return redirect("channels_hub:ticket", public_id=ticket.public_id)


@require_POST
@staff_page("channels_hub.change_ticket")
def note(request, public_id):
    return _post_action(
        request, public_id, BodyForm, "note_form",
        lambda t, d: services.add_internal_note(ticket=t, user=request.user, body=d["body"]).ticket,
        _("Note added."),
    )  # fmt: skip


@require_POST
@staff_page("channels_hub.add_message")
def ticket_call(request, public_id):
    def action(ticket, data):
        if ticket.customer is None:
            raise ValidationError({"body": [_("Link this ticket to a customer before logging a call.")]})
        services.log_call(customer=ticket.customer, user=request.user, body=data["body"], ticket=ticket)

    return _post_action(request, public_id, BodyForm, "call_form", action, _("Call logged."))


@require_POST
@staff_page("channels_hub.change_ticket")
def update(request, public_id):
    return _post_action(
        request, public_id, TicketUpdateForm, "update_form",
        lambda t, d: services.update_ticket(ticket=t, actor=request.user, **d),
        _("Ticket updated."),
    )  # fmt: skip


@require_POST
@staff_page("channels_hub.change_ticket")
def merge(request, public_id):
    def action(ticket, data):
        target = Ticket.objects.filter(public_id=data["target"].strip()).first()
        if target is None:
            raise ValidationError({"target": [_("No ticket with this id.")]})
        return services.merge_tickets(source=ticket, target=target, actor=request.user)

    return _post_action(request, public_id, MergeTicketForm, "merge_form", action, _("Tickets merged."))


@require_POST
@staff_page("channels_hub.change_lead")
def link_lead(request, public_id):
    def action(ticket, data):
        if ticket.lead is None:
            raise ValidationError({"customer": [_("This ticket has no unknown sender to link.")]})
        key = data["customer"].strip()
        customer = crm_selectors.get_customer(key) or crm_selectors.customer_by_member_number(key)
        if customer is None:
            raise ValidationError({"customer": [_("No customer with this member number or id.")]})
        services.link_lead(lead=ticket.lead, customer=customer)

    return _post_action(request, public_id, LinkLeadForm, "link_form", action, _("Linked to the customer."))


@require_POST
@staff_page("crm.add_customer")
def create_customer_from_lead(request, public_id):
    ticket = _ticket_or_404(public_id)
    if not request.user.has_perm("channels_hub.change_lead") or ticket.lead is None:
        raise Http404(_("This ticket has no unknown sender."))
    try:
        customer = services.create_customer_from_lead(lead=Lead.objects.get(pk=ticket.lead_id))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("channels_hub:ticket", public_id=ticket.public_id)
    messages.success(request, _("Customer created from the sender's details."))
    return redirect("crm:customer_detail", public_id=customer.public_id)


@require_POST
@staff_page("channels_hub.add_message")
def customer_contact(request, public_id, kind):
    """From the customer page: an agent logs a phone call, or store staff write a counter note."""
    customer = customer_or_404(public_id)
    form = BodyForm(request.POST)
    if form.is_valid():
        try:
            if kind == "call":
                message = services.log_call(customer=customer, user=request.user, body=form.cleaned_data["body"])
            else:
                message = services.add_counter_note(
                    customer=customer, user=request.user, body=form.cleaned_data["body"]
                )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Saved on ticket %(ref)s.") % {"ref": message.ticket.public_id})
            return redirect("crm:customer_detail", public_id=customer.public_id)
    else:
        messages.error(request, _("Write what was said before saving."))
    return redirect("crm:customer_detail", public_id=customer.public_id)


# --- Public pages -----------------------------------------------------------------------------
def _contact_limits(request, email: str) -> None:
    """Counted in the shared cache: per client (behind our trusted proxies, crm.security.client_ip),
    and per address the confirmation would go to, so nobody floods a mailbox from many clients."""
    limit, period = hub_setting("HUB_CONTACT_RATE")
    window = int(period.total_seconds())
    AttemptLimit("hub-contact-client", limit=limit, window=window).take(client_ip(request))
    if email:
        AttemptLimit("hub-contact-email", limit=CONTACT_MAILS_PER_ADDRESS, window=window).take(email.strip().lower())


CONTACT_MAILS_PER_ADDRESS = 3


@require_http_methods(["GET", "POST"])
def contact(request):
    """The public contact form: no login, CSRF-protected, rate-limited, confirmation mail. The answer
    names no ticket: whoever typed an address is not known to own it."""
    if request.method == "GET":
        return render(request, "channels_hub/contact.html", {"form": ContactForm()})
    form = ContactForm(request.POST)
    try:
        _contact_limits(request, form.cleaned_data["email"] if form.is_valid() else "")
    except TooManyAttempts as limited:
        response = render(request, "channels_hub/contact.html", {"form": form, "rate_limited": True}, status=429)
        response["Retry-After"] = limited.headers["Retry-After"]
        return response
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.submit_contact_form(
                name=data["name"], email=data["email"], phone=data["phone"], subject=data["subject"], body=data["body"]
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                name = field.removeprefix("sender.")
                form.add_error(name if name in form.fields else None, errors)
        else:
            return render(request, "channels_hub/contact_done.html")
    return render(request, "channels_hub/contact.html", {"form": form}, status=400)


@require_http_methods(["GET", "POST"])
def survey(request, token):
    """The one-click CSAT survey from the resolution mail: the score from the link is preselected;
    the answer is stored on submit (a GET never writes, so mail scanners cannot answer for people)."""
    try:
        ticket = ticket_for_csat_token(token)
    except ValidationError:
        return render(request, "channels_hub/survey_invalid.html", status=400)
    if request.method == "GET":
        form = CsatForm(initial={"score": request.GET.get("score")})
        return render(request, "channels_hub/survey.html", {"form": form, "ticket": ticket})
    form = CsatForm(request.POST)
    if form.is_valid():
        try:
            services.record_csat(token=token, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"])
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return render(request, "channels_hub/survey_done.html", {"ticket": ticket})
    return render(request, "channels_hub/survey.html", {"form": form, "ticket": ticket}, status=400)
