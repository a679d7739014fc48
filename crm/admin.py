"""Django admin for the crm core. Writes go through crm.services wherever one exists: customers,
products, staff invitations, merges, API keys and CSV imports; orders, merges and idempotency
records are written only by their services and are read-only here."""

import codecs
import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import (
    ApiKey,
    ChannelIdentity,
    Customer,
    CustomerMerge,
    IdempotencyRecord,
    Order,
    OrderLine,
    OrderReturn,
    OrderReturnLine,
    Product,
    Store,
    User,
)
from .normalize import format_phone_national
from .privacy.admin import CustomerPrivacyAdminMixin
from .roles import ROLES
from .scopes import SCOPES
from .selectors import search_condition
from .services import (
    create_api_key,
    create_customer,
    export_customers_csv,
    import_customers,
    invite_staff,
    merge_customers,
    read_customer_csv,
    revoke_api_key,
    set_api_key_rate_limit,
    update_customer,
    upsert_product,
)
from .services.customers import PROFILE_FIELDS, normalise_profile
from .services.staff import send_staff_invitation

logger = logging.getLogger(__name__)

admin.site.site_header = _("Tsunagu administration")
admin.site.site_title = _("Tsunagu admin")


def _copy_saved(target, saved) -> None:
    """Make the admin's unsaved instance the row a service saved, so that the admin's log entry and
    redirect after "Save" point at it."""
    for model_field in saved._meta.concrete_fields:
        setattr(target, model_field.attname, getattr(saved, model_field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            for message in errors:
                form.add_error(name if name in form.fields else None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


class ReadOnlyMixin:
    """Rows that only a service writes (orders, merges, ledgers, idempotency records): look, never
    touch. Other apps' admins reuse it for their ledgers."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


# --- Staff users ----------------------------------------------------------------------------------


class StaffChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"
        field_classes = {}


ROLE_LABELS = {
    "store_staff": _("Store staff"),
    "agent": _("Contact-center agent"),
    "marketer": _("Marketer"),
    "admin": _("Administrator"),
}


class InviteStaffForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    display_name = forms.CharField(label=_("Display name"), max_length=100, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=[(role, ROLE_LABELS.get(role, role)) for role in ROLES])
    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.filter(active=True),
        required=False,
        help_text=_("The store a store-staff member works in."),
    )


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    form = StaffChangeForm
    change_list_template = "admin/crm/user/change_list.html"
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("display_name", "language", "store")}),
        (
            _("Role and permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("last_login", "date_joined")
    list_display = ("email", "display_name", "role", "store", "language", "is_staff", "is_active", "last_login")
    list_filter = ("groups", "store", "language", "is_staff", "is_superuser", "is_active")
    search_fields = ("email", "display_name")
    ordering = ("email",)
    list_select_related = ("store",)
    actions = ["send_invitation"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_readonly_fields(self, request, obj=None):
        # An admin-role member manages staff and roles; only a superuser makes superusers.
        if request.user.is_superuser:
            return self.readonly_fields
        return (*self.readonly_fields, "is_superuser", "user_permissions")

    @admin.display(description=_("Role"))
    def role(self, obj):
        return ", ".join(group.name for group in obj.groups.all())

    def get_urls(self):
        return [
            path("invite/", self.admin_site.admin_view(self.invite_view), name="crm_user_invite"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        # Staff are invited and set their own password: there is no sign-up and no shared password.
        return HttpResponseRedirect(reverse("admin:crm_user_invite"))

    def invite_view(self, request):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = InviteStaffForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                user = invite_staff(**form.cleaned_data, invited_by=request.user)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                self.log_addition(request, user, [{"added": {}}])
                messages.success(request, _("Invitation sent to %(email)s.") % {"email": user.email})
                return HttpResponseRedirect(reverse("admin:crm_user_change", args=[user.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Invite staff"),
            "form": form,
        }
        return TemplateResponse(request, "admin/crm/user/invite.html", context)

    @admin.action(description=_("Send invitation (set-password email)"), permissions=["change"])
    def send_invitation(self, request, queryset):
        users = list(queryset.filter(is_active=True))
        for user in users:
            send_staff_invitation(user=user)
            logger.info("staff invitation sent user_id=%s actor_id=%s", user.pk, request.user.pk)
        self.message_user(
            request,
            ngettext("Invitation sent to %d user.", "Invitation sent to %d users.", len(users)) % len(users),
            messages.SUCCESS,
        )


# --- Stores and products --------------------------------------------------------------------------


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "prefecture", "phone", "active")
    list_filter = ("kind", "prefecture", "active")
    search_fields = ("code", "name")
    ordering = ("code",)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "category", "brand", "price", "active", "updated_at")
    list_filter = ("category", "brand", "active")
    search_fields = ("sku", "name", "brand")
    ordering = ("sku",)
    readonly_fields = ("created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        # The SKU is the key the EC/PIM and POS use; changing it would make a different product.
        return (*self.readonly_fields, "sku") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in ("name", "category", "brand", "price", "active")}
        product, _created = upsert_product(sku=obj.sku, **fields)
        _copy_saved(obj, product)


# --- Customers ------------------------------------------------------------------------------------


class MergedFilter(admin.SimpleListFilter):
    title = _("merged")
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return [("no", _("Active")), ("yes", _("Merged into another customer"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(merged_into__isnull=False)
        if self.value() == "no":
            return queryset.filter(merged_into__isnull=True)
        return queryset


class CustomerAdminForm(forms.ModelForm):
    """Runs the same normalisation as create_customer/update_customer, so that a phone typed as
    090-1234-5678 or kana typed in hiragana is checked here and shown back as it will be saved."""

    class Meta:
        model = Customer
        fields = PROFILE_FIELDS

    def clean(self):
        cleaned = super().clean()
        profile = {name: cleaned[name] for name in PROFILE_FIELDS if name in cleaned}
        try:
            cleaned.update(normalise_profile(profile))
        except ValidationError as exc:
            _add_errors(self, exc)
        return cleaned


class IdentityInline(ReadOnlyInline):
    model = ChannelIdentity
    fields = ("channel", "external_id", "created_at")
    readonly_fields = fields
    verbose_name_plural = _("channel accounts")


class MergeForm(forms.Form):
    winner = forms.TypedChoiceField(label=_("Keep"), coerce=int, widget=forms.RadioSelect)
    reason = forms.CharField(label=_("Reason"), max_length=255, help_text=_("Why these records are one person."))

    def __init__(self, *args, customers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["winner"].choices = [(c.pk, f"{c.member_number} {c}") for c in customers]


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("The format of the customer export."))
    encoding = forms.ChoiceField(
        label=_("Encoding"),
        choices=[("utf-8-sig", _("UTF-8 (with or without BOM)")), ("cp932", _("Shift_JIS (Excel, Japanese)"))],
    )
    dry_run = forms.BooleanField(label=_("Check only, write nothing"), required=False)

    def clean(self):
        cleaned = super().clean()
        upload, encoding = cleaned.get("file"), cleaned.get("encoding")
        if upload and encoding:
            try:
                for _line in codecs.iterdecode(upload, encoding):
                    pass
            except UnicodeDecodeError:
                self.add_error("encoding", _("The file is not in this encoding. Try the other one."))
            upload.seek(0)
        return cleaned


@admin.register(Customer)
class CustomerAdmin(CustomerPrivacyAdminMixin, admin.ModelAdmin):
    form = CustomerAdminForm
    change_list_template = "admin/crm/customer/change_list.html"
    list_display = (
        "member_number", "full_name", "full_name_kana", "email", "phone_display", "home_store", "email_opt_in",
        "sms_opt_in", "created_at", "merged_badge",
    )  # fmt: skip
    list_filter = ("prefecture", "home_store", "email_opt_in", "sms_opt_in", MergedFilter)
    list_select_related = ("home_store", "merged_into")
    # The box searches the normalised columns (see get_search_results): member number, email,
    # phone in any format, name and kana in any script.
    search_fields = ("member_number", "email", "phone", "search_name", "search_kana")
    search_help_text = _("Member number, email, phone (any format), name or kana (ひらがな, カタカナ, ｶﾀｶﾅ).")
    ordering = ("-created_at",)
    show_full_result_count = False
    inlines = [IdentityInline]
    actions = ["merge_selected", "export_csv"]
    readonly_fields = (
        "public_id", "merged_into", "email_opt_in_at", "email_opt_in_source", "sms_opt_in_at", "sms_opt_in_source",
        "created_at", "updated_at",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("public_id", "member_number", "merged_into", "home_store")}),
        (_("Name"), {"fields": ("family_name", "given_name", "family_name_kana", "given_name_kana")}),
        (_("Contact"), {"fields": ("email", "phone", "postal_code", "prefecture", "address", "birth_date")}),
        (
            _("Consent"),
            {
                "fields": (
                    "email_opt_in",
                    "email_opt_in_at",
                    "email_opt_in_source",
                    "sms_opt_in",
                    "sms_opt_in_at",
                    "sms_opt_in_source",
                )
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return self.fieldsets
        # A new customer has no id, history or consent record yet: show only what staff type.
        fieldsets = []
        for title, options in self.fieldsets:
            fields = [name for name in options["fields"] if name not in self.readonly_fields]
            if fields:
                fieldsets.append((title, {**options, "fields": fields}))
        return fieldsets

    def view_on_site(self, obj):
        return reverse("crm:customer_detail", args=[obj.public_id])

    @admin.display(description=_("phone"), ordering="phone")
    def phone_display(self, obj):
        return format_phone_national(obj.phone)

    @admin.display(description=_("name"), ordering="search_name")
    def full_name(self, obj):
        return obj.full_name

    @admin.display(description=_("kana"), ordering="search_kana")
    def full_name_kana(self, obj):
        return obj.full_name_kana

    @admin.display(description=_("merged"))
    def merged_badge(self, obj):
        if obj.merged_into_id is None:
            return ""
        return format_html(
            '<span class="merged-badge" style="background:#ba2121;color:#fff;border-radius:4px;padding:1px 6px">'
            "{} → {}</span>",
            _("Merged"),
            obj.merged_into.member_number,
        )

    def get_search_results(self, request, queryset, search_term):
        # The staff search box's rules (exact and prefix matches on indexed, normalised columns)
        # rather than Django's icontains over every column, which scans the whole table.
        if not search_term.strip():
            return queryset, False
        return queryset.filter(search_condition(search_term)), False

    def has_change_permission(self, request, obj=None):
        # A merged record is history: edits go to the surviving customer.
        if obj is not None and obj.merged_into_id is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Customers are merged, never deleted: orders, points and tickets hang on them.
        return False

    def has_merge_permission(self, request):
        return request.user.has_perm("crm.merge_customer")

    def has_export_permission(self, request):
        return request.user.has_perm("crm.export_customer")

    def has_import_permission(self, request):
        return request.user.has_perm("crm.import_customer")

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in PROFILE_FIELDS if name in form.cleaned_data}
        if change:
            changed = {name: fields[name] for name in form.changed_data if name in fields}
            saved = update_customer(customer=obj, **changed) if changed else obj
        else:
            saved = create_customer(**fields)
        _copy_saved(obj, saved)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_import_permission": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="crm_customer_import"),
            *super().get_urls(),
        ]

    @admin.action(description=_("Merge the two selected customers…"), permissions=["merge"])
    def merge_selected(self, request, queryset):
        customers = list(queryset.select_related("home_store").annotate(order_count=Count("orders")).order_by("pk"))
        if len(customers) != 2:
            self.message_user(request, _("Select exactly two customers to merge."), messages.ERROR)
            return None
        form = MergeForm(request.POST if "apply" in request.POST else None, customers=customers)
        if form.is_valid():
            by_pk = {c.pk: c for c in customers}
            winner = by_pk[form.cleaned_data["winner"]]
            loser = next(c for c in customers if c.pk != winner.pk)
            try:
                merge_customers(winner=winner, loser=loser, reason=form.cleaned_data["reason"], actor=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return None
            self.message_user(
                request,
                _("Merged %(loser)s into %(winner)s.") % {"loser": loser.member_number, "winner": winner.member_number},
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Merge customers"),
            "customers": customers,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/crm/customer/merge.html", context)

    @admin.action(description=_("Export selected customers to CSV"), permissions=["export"])
    def export_csv(self, request, queryset):
        logger.info("customers exported from admin actor_id=%s", request.user.pk)
        response = StreamingHttpResponse(
            export_customers_csv(queryset, bom=True), content_type="text/csv; charset=utf-8"
        )
        filename = f"customers-{timezone.localdate():%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        result, file_error = None, None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            lines = codecs.iterdecode(upload, form.cleaned_data["encoding"])
            try:
                result = import_customers(
                    rows=read_customer_csv(lines), actor=request.user, dry_run=form.cleaned_data["dry_run"]
                )
            except ValidationError as exc:
                file_error = " ".join(exc.messages)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import customers from CSV"),
            "form": form,
            "result": result,
            "file_error": file_error,
        }
        return TemplateResponse(request, "admin/crm/customer/import.html", context)


@admin.register(ChannelIdentity)
class ChannelIdentityAdmin(ReadOnlyAdmin):
    list_display = ("channel", "external_id", "customer", "created_at")
    list_filter = ("channel",)
    search_fields = ("=external_id", "=customer__member_number")
    list_select_related = ("customer",)


@admin.register(CustomerMerge)
class CustomerMergeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "loser", "winner", "actor", "reason")
    search_fields = ("=winner__member_number", "=loser__member_number")
    list_select_related = ("winner", "loser", "actor")


# --- Orders ---------------------------------------------------------------------------------------


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("line_number", "sku", "product", "quantity", "unit_price", "amount", "returned_quantity")
    readonly_fields = fields


class OrderReturnInline(ReadOnlyInline):
    model = OrderReturn
    fields = ("public_id", "amount", "reason", "actor", "created_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "ordered_at", "channel", "store", "customer", "total", "points_earned", "status")
    list_filter = ("channel", "status", "store")
    search_fields = ("=public_id", "=external_ref", "=customer__member_number")
    list_select_related = ("store", "customer")
    ordering = ("-ordered_at",)
    show_full_result_count = False
    inlines = [OrderLineInline, OrderReturnInline]


class OrderReturnLineInline(ReadOnlyInline):
    model = OrderReturnLine
    fields = ("order_line", "quantity", "amount")
    readonly_fields = fields


@admin.register(OrderReturn)
class OrderReturnAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "order", "amount", "reason", "actor", "created_at")
    search_fields = ("=public_id", "=order__public_id")
    list_select_related = ("order", "actor")
    ordering = ("-created_at",)
    inlines = [OrderReturnLineInline]


# --- Integrations ---------------------------------------------------------------------------------


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=[(scope, scope) for scope in SCOPES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ("name", "scopes", "rate_limit")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "name", "prefix", "scope_list", "rate_limit", "created_by", "created_at", "last_used_at", "revoked_at",
    )  # fmt: skip
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "=prefix")
    list_select_related = ("created_by",)
    actions = ["revoke"]
    # key_hash is never shown: only the prefix tells keys apart. Of an existing key only the rate may
    # change: other scopes mean a new key (and revoking the old one).
    fields = ("name", "prefix", "scopes", "rate_limit", "created_by", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("name", "prefix", "scopes", "created_by", "created_at", "last_used_at", "revoked_at")

    @admin.display(description=_("scopes"))
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("name", "scopes", "rate_limit") if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # revoked keys stay, so that last use and creator remain on record

    def has_revoke_permission(self, request):
        return request.user.has_perm("crm.change_apikey")

    def save_model(self, request, obj, form, change):
        if change:
            set_api_key_rate_limit(api_key=obj, rate_limit=form.cleaned_data["rate_limit"])
            logger.info("api key rate changed api_key_id=%s actor_id=%s", obj.pk, request.user.pk)
            return
        api_key, raw_key = create_api_key(
            name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"], created_by=request.user,
            rate_limit=form.cleaned_data["rate_limit"],
        )  # fmt: skip
        _copy_saved(obj, api_key)
        obj.raw_key = raw_key  # for response_add only; never stored, never in a cookie or a log
        logger.info("api key created api_key_id=%s actor_id=%s", api_key.pk, request.user.pk)

    def response_add(self, request, obj, post_url_continue=None):
        """The new key is shown once, in this answer itself (not through the messages cookie), and the
        page is not cached."""
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "api_key": obj, "raw_key": obj.raw_key,
            "title": _("API key created"),
        }  # fmt: skip
        response = render(request, "admin/crm/apikey/created.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description=_("Revoke selected API keys"), permissions=["revoke"])
    def revoke(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for api_key in keys:
            revoke_api_key(api_key=api_key)
            logger.info("api key revoked api_key_id=%s actor_id=%s", api_key.pk, request.user.pk)
        self.message_user(
            request, ngettext("Revoked %d key.", "Revoked %d keys.", len(keys)) % len(keys), messages.SUCCESS
        )


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "owner", "method", "path", "state", "response_status")
    list_filter = ("state", "method")
    search_fields = ("=owner", "=key")
    ordering = ("-created_at",)
    show_full_result_count = False
