"""Forms of the journey and offer pages. They parse what a person typed; the services decide."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from channels_hub.line.client import MAX_TEXT
from channels_hub.line.models import LineAccount

from .models import Journey, JourneyStep, MailPreference, Offer, Segment


class JourneyForm(forms.ModelForm):
    class Meta:
        model = Journey
        fields = ["name", "trigger", "trigger_days", "segment", "stop_on_purchase", "from_email", "line_account",
                  "holdout_percent"]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.order_by("name")
        self.fields["line_account"].queryset = LineAccount.objects.filter(active=True)


class StepForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What this step does"), choices=[("", "—"), *JourneyStep.Kind.choices], required=False
    )
    wait_days = forms.IntegerField(label=_("Days to wait"), required=False, min_value=0, max_value=3650)
    offer = forms.ModelChoiceField(label=_("Offer"), queryset=Offer.objects.none(), required=False)
    subject = forms.CharField(label=_("Subject"), max_length=255, required=False)
    body_text = forms.CharField(
        label=_("Text body"), required=False, widget=forms.Textarea(attrs={"rows": 5, "class": "mono"})
    )
    body_html = forms.CharField(
        label=_("HTML body"), required=False, widget=forms.Textarea(attrs={"rows": 4, "class": "mono"})
    )
    line_text = forms.CharField(
        label=_("LINE message"), required=False,
        help_text=_("For a LINE step: what the customer gets on LINE (at most 5,000 characters)."),
        widget=forms.Textarea(attrs={"rows": 4, "class": "mono", "maxlength": MAX_TEXT}),
    )  # fmt: skip

    def __init__(self, *args, line_offered: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = Offer.objects.order_by("-created_at")
        if not line_offered:
            self.fields["kind"].choices = [c for c in self.fields["kind"].choices if c[0] != JourneyStep.Kind.LINE]


StepFormSet = forms.formset_factory(StepForm, extra=2, max_num=20, absolute_max=20)
# The fields each kind of step uses: the builder shows only those (static/js/tsunagu.js).
STEP_FIELDS = {
    JourneyStep.Kind.WAIT: ["wait_days"],
    JourneyStep.Kind.EMAIL: ["subject", "body_text", "body_html"],
    JourneyStep.Kind.LINE: ["line_text"],
    JourneyStep.Kind.COUPON: ["offer"],
}


def line_offered(journey) -> bool:
    """A LINE step is offered when an active LINE account exists (or the journey has one already, so
    that editing it does not drop the step)."""
    if LineAccount.objects.filter(active=True).exists():
        return True
    return journey.pk is not None and journey.steps.filter(kind=JourneyStep.Kind.LINE).exists()


def steps_of(formset) -> list[dict]:
    """The filled-in step forms, in order (empty rows are skipped)."""
    return [form.cleaned_data for form in formset.forms if form.cleaned_data.get("kind")]


def add_service_errors(form, formset, error: ValidationError) -> None:
    """Put `steps.N.field` errors on the step forms, the others on the journey form."""
    filled = [f for f in formset.forms if f.cleaned_data.get("kind")]
    for field, messages in error.message_dict.items():
        parts = field.split(".")
        if parts[0] == "steps" and len(parts) == 3 and int(parts[1]) < len(filled):
            step_form = filled[int(parts[1])]
            step_form.add_error(parts[2] if parts[2] in step_form.fields else None, messages)
        elif field in form.fields:
            form.add_error(field, messages)
        else:
            form.add_error(None, messages)


class OfferForm(forms.ModelForm):
    categories = forms.CharField(
        label=_("Categories (comma-separated)"), required=False, max_length=1000,
        help_text=_("Empty: every product."),
    )  # fmt: skip

    class Meta:
        model = Offer
        fields = ["name", "kind", "value", "min_spend", "valid_from", "valid_until", "per_customer_limit"]
        widgets = {
            "valid_from": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "valid_until": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }

    def clean_categories(self):
        return [c.strip() for c in (self.cleaned_data.get("categories") or "").split(",") if c.strip()]

    def _post_clean(self):
        pass  # the service validates


class IssueCodeForm(forms.Form):
    customer = forms.CharField(label=_("Customer (id or member number, optional)"), max_length=40, required=False)
    max_uses = forms.IntegerField(label=_("Uses allowed"), min_value=1, max_value=1_000_000, initial=1)


class PreferenceForm(forms.Form):
    topics = forms.MultipleChoiceField(
        label=_("Mail I want"), choices=MailPreference.Topic.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    max_per_week = forms.TypedChoiceField(
        label=_("At most"), required=False, coerce=int, empty_value=None,
        choices=[("", _("No personal limit")), ("1", _("1 mail a week")), ("2", _("2 mails a week")),
                 ("3", _("3 mails a week"))],
    )  # fmt: skip
