from django.urls import path

from . import views

urlpatterns = [
    path("inventory/availability/", views.AvailabilityView.as_view(), name="api-inventory-availability"),
    path("inventory/reservations/", views.ReservationCreateView.as_view(), name="api-inventory-reservations"),
    path(
        "inventory/reservations/<str:reservation_id>/fulfill/",
        views.ReservationFulfilView.as_view(),
        name="api-inventory-reservation-fulfill",
    ),
    path(
        "inventory/reservations/<str:reservation_id>/cancel/",
        views.ReservationCancelView.as_view(),
        name="api-inventory-reservation-cancel",
    ),
    path("inventory/try-on-slots/", views.TryOnSlotsView.as_view(), name="api-inventory-try-on-slots"),
    path("inventory/stock-sync/", views.StockSyncView.as_view(), name="api-inventory-stock-sync"),
]
