from django.contrib import admin
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from crm.api.errors import api_not_found
from crm.security import admin_login

urlpatterns = [
    path("", include("crm.urls_staff")),
    path("accounts/", include("allauth.urls")),
    path("admin/login/", admin_login),  # one login flow for everyone: allauth, with rate limits and 2FA
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from this URL, so the page needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("insights.api.urls")),  # ahead of crm's: it serves recommendations
    path("api/v1/", include("crm.api.urls")),
    path("api/v1/", include("loyalty.api.urls")),
    path("api/v1/", include("inventory.api.urls")),
    path("api/v1/", include("channels_hub.api.urls")),
    path("api/v1/", include("campaigns.api.urls")),
    path("loyalty/", include("loyalty.urls")),
    path("inventory/", include("inventory.urls")),
    path("hub/", include("channels_hub.urls")),
    path("", include("channels_hub.urls_public")),  # /contact/ and /survey/<token>/ for customers
    path("", include("channels_hub.line.urls")),  # /hooks/line/<name>/ (LINE) and /line/<name>/link/ (members)
    path("campaigns/", include("campaigns.urls")),
    path("insights/", include("insights.urls")),
    re_path(r"^api/", api_not_found),
]

handler404 = "crm.views.page_not_found"
handler500 = "crm.views.server_error"
