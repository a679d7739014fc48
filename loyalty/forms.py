from django import forms
from django.utils.translation import gettext_lazy as _

from .services.points import MAX_POINTS


class CounterForm(forms.Form):
    """Store staff at the counter: spend points for the customer, or award points, always saying why.
    `reference` is a token made when the form is shown, so a double click records one transaction."""

    REDEEM, AWARD = "redeem", "award"
    action = forms.ChoiceField(label=_("Action"), choices=[(REDEEM, _("Redeem")), (AWARD, _("Award"))])
    points = forms.IntegerField(label=_("Points"), min_value=1, max_value=MAX_POINTS)
    reason = forms.CharField(label=_("Reason"), max_length=255)
    reference = forms.CharField(widget=forms.HiddenInput, max_length=64)
