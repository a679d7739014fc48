"""Forms of the marketers' pages. They parse what a person typed; the services decide what is allowed."""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from channels_hub.line.models import LineAccount
from crm.models import User

from .models import Campaign, Segment


class RulesField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "mono"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(_("The rules are not valid JSON: %(error)s") % {"error": exc.msg}) from exc

    def prepare_value(self, value):
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, indent=2)
        return value


class SegmentForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("segment or campaign", "Name"), max_length=200)
    rules = RulesField(label=_("Rules as JSON (for integrations and advanced edits)"))


class PreviewRulesForm(forms.Form):
    rules = RulesField()


class CampaignForm(forms.ModelForm):
    featured_skus = forms.CharField(
        label=_("Featured products (SKUs, comma-separated)"), required=False, max_length=1000,
        help_text=_("Shown to templates as {{ products }}."),
    )  # fmt: skip

    class Meta:
        model = Campaign
        fields = ["name", "segment", "channel", "line_account", "subject", "from_email", "body_text", "body_html",
                  "line_text", "holdout_percent", "throttle"]  # fmt: skip
        widgets = {
            "body_text": forms.Textarea(attrs={"rows": 10, "class": "mono"}),
            "body_html": forms.Textarea(attrs={"rows": 10, "class": "mono"}),
            "line_text": forms.Textarea(attrs={"rows": 6, "class": "mono", "maxlength": 5000}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.order_by("name")
        self.fields["line_account"].queryset = LineAccount.objects.filter(active=True)
        self.fields["channel"].required = False  # email unless chosen
        if self.instance.pk and self.instance.featured_skus:
            self.initial["featured_skus"] = ", ".join(self.instance.featured_skus)

    def clean_channel(self):
        return self.cleaned_data.get("channel") or Campaign.Channel.EMAIL

    def clean_featured_skus(self):
        raw = self.cleaned_data.get("featured_skus") or ""
        return [s.strip() for s in raw.split(",") if s.strip()]

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in [*self.Meta.fields, "featured_skus"]}

    def add_service_errors(self, error: ValidationError) -> None:
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)

    def _post_clean(self):
        pass  # the service validates the model (templates, sender, hold-out), not the ModelForm


class ScheduleForm(forms.Form):
    scheduled_at = forms.DateTimeField(label=_("Send at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class TestSendForm(forms.Form):
    to = forms.CharField(label=_("Staff addresses (comma-separated)"), max_length=1000)
    customer = forms.CharField(label=_("Render for customer (id, optional)"), max_length=40, required=False)

    def clean_to(self):
        from django.core.validators import validate_email

        addresses = [a.strip().lower() for a in self.cleaned_data["to"].split(",") if a.strip()]
        if not addresses or len(addresses) > 10:
            raise ValidationError(_("Enter one to ten addresses."))
        for address in addresses:
            validate_email(address)
        staff = set(User.objects.filter(email__in=addresses, is_active=True).values_list("email", flat=True))
        outsiders = [a for a in addresses if a not in staff]
        if outsiders:
            raise ValidationError(
                _("Test mails go to staff only; not staff: %(list)s") % {"list": ", ".join(outsiders)}
            )
        return addresses
