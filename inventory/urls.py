from django.urls import path

from . import views

app_name = "inventory"
urlpatterns = [
    path("", views.stock, name="stock"),
    path("reservations/", views.reservations, name="reservations"),
    path("reservations/new/", views.reservation_create, name="reservation_create"),
    path("reservations/<str:public_id>/fulfil/", views.reservation_fulfil, name="reservation_fulfil"),
    path("reservations/<str:public_id>/cancel/", views.reservation_cancel, name="reservation_cancel"),
    path("pick/customers/", views.pick_customer, name="pick_customer"),
    path("pick/products/", views.pick_product, name="pick_product"),
    path("transfers/", views.transfers, name="transfers"),
    path("transfers/ship/", views.transfer_ship, name="transfer_ship"),
    path("transfers/<str:public_id>/receive/", views.transfer_receive, name="transfer_receive"),
    path("discrepancies/", views.discrepancies, name="discrepancies"),
    path("discrepancies/<str:public_id>/resolve/", views.discrepancy_resolve, name="discrepancy_resolve"),
]
