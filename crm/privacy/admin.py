"""The admin's side of personal data: the access log (who saw whom, with filters), the erasures, and
on a customer's page the disclosure export and the erasure (admins only, logged, irreversible and
said so before it is done). Opening a customer in the admin is itself logged."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from ..exceptions import DomainError
from ..models import AccessLogEntry, Customer, CustomerErasure
from .access_log import log_access
from .services import erase_customer, export_customer


@admin.register(AccessLogEntry)
class AccessLogAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "kind", "customer_id_display", "what", "ip_address")
    list_filter = (
        "kind",
        "at",
        ("user", admin.RelatedOnlyFieldListFilter),
        ("api_key", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("=customer__public_id", "actor", "=ip_address", "=request_id")
    search_help_text = _("A customer id (cus_…), a staff email or key name, an address or a request id.")
    date_hierarchy = "at"
    list_select_related = ("customer",)
    show_full_result_count = False
    ordering = ("-at", "-pk")

    @admin.display(description=_("customer"), ordering="customer")
    def customer_id_display(self, obj):
        return obj.customer.public_id

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # append-only: only the retention purge removes entries


@admin.register(CustomerErasure)
class CustomerErasureAdmin(admin.ModelAdmin):
    list_display = ("created_at", "customer", "actor_label", "reason")
    readonly_fields = ("customer", "reason", "actor_label", "counts", "created_at")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EraseForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255, help_text=_("E.g. the reference of the request."))
    confirm = forms.CharField(label=_("Type the customer id to confirm"), max_length=40)

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer

    def clean_confirm(self):
        if self.cleaned_data["confirm"].strip() != self.customer.public_id:
            raise ValidationError(_("Type %(id)s exactly.") % {"id": self.customer.public_id})
        return self.cleaned_data["confirm"]


class CustomerPrivacyAdminMixin:
    """For crm's CustomerAdmin: log each opening of a customer, add the export and erase buttons."""

    change_form_template = "admin/crm/customer/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        customer = Customer.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if customer is not None and request.method == "GET":
            log_access(request=request, customers=[customer], kind=AccessLogEntry.Kind.ADMIN_PAGE)
        extra_context = {
            **(extra_context or {}),
            "can_export_personal_data": request.user.has_perm("crm.export_customer"),
            "can_erase_personal_data": request.user.has_perm("crm.erase_customer")
            and customer is not None
            and customer.erased_at is None,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path("<int:pk>/personal-data/export/", self.admin_site.admin_view(self.export_personal_data_view),
                 name="crm_customer_export_personal_data"),
            path("<int:pk>/personal-data/erase/", self.admin_site.admin_view(self.erase_personal_data_view),
                 name="crm_customer_erase_personal_data"),
            *super().get_urls(),
        ]  # fmt: skip

    def export_personal_data_view(self, request, pk):
        if not request.user.has_perm("crm.export_customer"):
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=pk)
        document = export_customer(customer_id=customer.public_id, request=request)
        response = HttpResponse(
            json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{document["customer"]}.json"'
        return response

    def erase_personal_data_view(self, request, pk):
        if not request.user.has_perm("crm.erase_customer"):
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=pk)
        form = EraseForm(request.POST if request.method == "POST" else None, customer=customer)
        if request.method == "POST" and form.is_valid():
            try:
                erase_customer(customer_id=customer.public_id, reason=form.cleaned_data["reason"], request=request)
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            except ValidationError as exc:
                form.add_error("reason", exc.message_dict.get("reason", exc.messages))
            else:
                self.message_user(request, _("The customer's personal data was erased in every app."))
                return redirect(reverse("admin:crm_customer_change", args=[customer.pk]))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": _("Erase personal data"),
            "customer": customer, "form": form, "already_erased": customer.erased_at is not None,
        }  # fmt: skip
        return TemplateResponse(request, "admin/crm/customer/erase.html", context)
