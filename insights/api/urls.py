"""insights' API routes. The root URLconf includes them ahead of crm's, so the recommendation
endpoints listed under Customers and Catalog in the contract are served from here."""

from django.urls import path

from . import views

urlpatterns = [
    path("insights/kpis/", views.KpiView.as_view(), name="api-insights-kpis"),
    path(
        "customers/<str:customer_id>/recommendations/",
        views.CustomerRecommendationsView.as_view(),
        name="api-customer-recommendations",
    ),
    path("products/<str:sku>/bought-together/", views.BoughtTogetherView.as_view(), name="api-bought-together"),
]
