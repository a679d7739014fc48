from django.urls import path

from . import views

app_name = "inventory"
urlpatterns = [
    path("", views.stock, name="stock"),
    path("reservations/", views.reservations, name="reservations"),
    path("reservations/new/", views.reservation_create, name="reservation_create"),
    path("reservations/<str:public_id>/fulfil/", views.reservation_fulfil, name="reservation_fulfil"),
    path("reservations/<str:public_id>/cancel/", views.reservation_cancel, name="reservation_cancel"),
    path("discrepancies/", views.discrepancies, name="discrepancies"),
    path("discrepancies/<str:public_id>/resolve/", views.discrepancy_resolve, name="discrepancy_resolve"),
]
