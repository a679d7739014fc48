from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.models import Store

from .models import Reservation


class StockSearchForm(forms.Form):
    q = forms.CharField(label=_("SKU or product name"), max_length=100, required=False)


class ReservationForm(forms.Form):
    """The customer and the item are typed as staff search for them (a card number with spaces, a
    phone, an email, a name; a SKU in any case) and picked from suggestions while typing."""

    customer = forms.CharField(
        label=_("Customer"), max_length=100,
        help_text=_("Card number, phone, email or name: pick from the suggestions."),
    )  # fmt: skip
    sku = forms.CharField(label=_("SKU"), max_length=64, help_text=_("SKU or product name."))
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=99, initial=1)
    kind = forms.ChoiceField(label=_("Kind"), choices=Reservation.Kind.choices)
    slot_start = forms.DateTimeField(
        label=_("Try-on slot"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class ResolveDiscrepancyForm(forms.Form):
    counted = forms.IntegerField(label=_("Units counted"), min_value=0, max_value=1_000_000)
    note = forms.CharField(label=_("What you found"), max_length=255, required=False)


class TransferForm(forms.Form):
    to_store = forms.ModelChoiceField(label=pgettext_lazy("transfer", "To"), queryset=Store.objects.none())
    sku = forms.CharField(label=_("SKU"), max_length=64, help_text=_("SKU or product name."))
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=10_000, initial=1)
    note = forms.CharField(label=_("Note"), max_length=255, required=False)

    def __init__(self, *args, from_store: Store | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        stores = Store.objects.filter(active=True).order_by("kind", "code")
        if from_store is not None:
            stores = stores.exclude(pk=from_store.pk)
        self.fields["to_store"].queryset = stores


class ShipOrderForm(forms.Form):
    carrier = forms.CharField(label=_("Carrier"), max_length=64)
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=64)


class CollectOrderForm(forms.Form):
    pickup_code = forms.CharField(label=_("Pickup code"), max_length=32)


class CancelOrderForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)
