from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Reservation


class StockSearchForm(forms.Form):
    q = forms.CharField(label=_("SKU or product name"), max_length=100, required=False)


class ReservationForm(forms.Form):
    member_number = forms.CharField(label=_("Member number"), max_length=20)
    sku = forms.CharField(label=_("SKU"), max_length=64)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=99, initial=1)
    kind = forms.ChoiceField(label=_("Kind"), choices=Reservation.Kind.choices)
    slot_start = forms.DateTimeField(
        label=_("Try-on slot"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class ResolveDiscrepancyForm(forms.Form):
    note = forms.CharField(label=_("What you found"), max_length=255, required=False)


class ShipOrderForm(forms.Form):
    carrier = forms.CharField(label=_("Carrier"), max_length=64)
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=64)


class CollectOrderForm(forms.Form):
    pickup_code = forms.CharField(label=_("Pickup code"), max_length=32)


class CancelOrderForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)
