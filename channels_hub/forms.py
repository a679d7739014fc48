from django import forms
from django.utils.translation import gettext_lazy as _

from crm.models import Channel, User

from .models import Priority, Team, Ticket
from .selectors import QUEUES

_QUEUE_LABELS = {
    "mine": _("Mine"), "team": _("My teams"), "unassigned": _("Unassigned"), "overdue": _("Overdue"),
    "mentions": _("Mentions"), "all": _("All open"),
}  # fmt: skip


class InboxFilterForm(forms.Form):
    queue = forms.ChoiceField(choices=[(q, _QUEUE_LABELS[q]) for q in QUEUES], required=False)
    status = forms.ChoiceField(choices=[("", _("Open (any)")), *Ticket.Status.choices], required=False)
    channel = forms.ChoiceField(choices=[("", _("Any channel")), *Channel.choices], required=False)
    priority = forms.ChoiceField(choices=[("", _("Any priority")), *Priority.choices], required=False)
    q = forms.CharField(max_length=100, required=False, label=_("Search"))


class BodyForm(forms.Form):
    body = forms.CharField(label=_("Message"), max_length=20_000, widget=forms.Textarea(attrs={"rows": 5}))


# A web form has no way back to the sender: it is never offered as the channel of a reply.
_REPLY_CHANNELS = [c for c in Channel.choices if c[0] != Channel.WEB_FORM]


class ReplyForm(BodyForm):
    channel = forms.ChoiceField(label=_("Send by"), choices=[("", _("Where the customer wrote")), *_REPLY_CHANNELS],
                                required=False)  # fmt: skip


class TicketUpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Ticket.Status.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)
    assignee = forms.ModelChoiceField(
        label=_("Assignee"),
        queryset=User.objects.filter(is_active=True, groups__name__in=["agent", "admin"]).distinct(),
        required=False,
    )
    category = forms.CharField(label=_("Category"), max_length=64, required=False)
    tags = forms.CharField(label=_("Tags"), max_length=500, required=False, help_text=_("Comma-separated."))

    def clean_tags(self):
        tags = [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]
        if len(tags) > 20 or any(len(t) > 50 for t in tags):
            raise forms.ValidationError(_("At most 20 tags of 50 characters."))
        return tags


class MergeTicketForm(forms.Form):
    target = forms.CharField(label=_("Merge into ticket"), max_length=40)


class LinkLeadForm(forms.Form):
    customer = forms.CharField(label=_("Member number or customer id"), max_length=40)


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    email = forms.EmailField(label=_("Email"), max_length=254)
    phone = forms.CharField(label=_("Phone (optional)"), max_length=32, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("Message"), max_length=5000, widget=forms.Textarea(attrs={"rows": 8}))
    # Left empty by people; bots that fill every field are refused.
    website = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_body(self):
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError(_("The message is empty."))
        return body

    def clean_website(self):
        if self.cleaned_data["website"]:
            raise forms.ValidationError(_("Leave this field empty."))
        return ""


class CsatForm(forms.Form):
    score = forms.TypedChoiceField(label=_("How satisfied are you?"), choices=[(i, str(i)) for i in range(1, 6)],
                                   coerce=int, widget=forms.RadioSelect)  # fmt: skip
    comment = forms.CharField(label=_("Comment (optional)"), max_length=2000, required=False,
                              widget=forms.Textarea(attrs={"rows": 4}))  # fmt: skip
