from django import forms
from django.utils.translation import gettext_lazy as _


class MemberProofForm(forms.Form):
    """The same proof as POST /api/v1/customers/link/: member number plus birth date or phone."""

    member_number = forms.CharField(label=_("Member number"), max_length=20)
    birth_date = forms.DateField(label=_("Birth date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("birth_date") and not (data.get("phone") or "").strip() and not self.errors:
            raise forms.ValidationError(_("Give the birth date or the phone number as proof."))
        return data


class LineAccountForm(forms.ModelForm):
    """Admin form: secrets are write-only (never rendered back); left empty, they stay as they are."""

    channel_secret = forms.CharField(
        label=_("Channel secret"), required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("LINE Developers console → the channel → Basic settings. Leave empty to keep the stored one."),
    )  # fmt: skip
    access_token = forms.CharField(
        label=_("Channel access token"), required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Messaging API tab → Channel access token (long-lived). Leave empty to keep the stored one."),
    )  # fmt: skip

    api_base = forms.URLField(
        label=_("API base URL"), required=False, max_length=200, assume_scheme="https",
        help_text=_("Empty for LINE itself; another server (e.g. the local fake) for development."),
    )  # fmt: skip

    class Meta:
        fields = ["name", "label", "api_base", "link_keyword", "active"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None:
            for field in ("channel_secret", "access_token"):
                if not data.get(field):
                    self.add_error(field, _("A new account needs this."))
        return data
