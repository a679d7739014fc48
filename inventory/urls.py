from django.urls import path

from . import views

app_name = "inventory"
urlpatterns = [
    path("", views.stock, name="stock"),
    path("reservations/", views.reservations, name="reservations"),
    path("reservations/new/", views.reservation_create, name="reservation_create"),
    path("reservations/<str:public_id>/fulfil/", views.reservation_fulfil, name="reservation_fulfil"),
    path("reservations/<str:public_id>/cancel/", views.reservation_cancel, name="reservation_cancel"),
    path("fulfilment/", views.fulfilment, name="fulfilment"),
    path("fulfilment/<str:public_id>/ship/", views.order_ship, name="order_ship"),
    path("fulfilment/<str:public_id>/ready/", views.order_ready, name="order_ready"),
    path("fulfilment/<str:public_id>/collect/", views.order_collect, name="order_collect"),
    path("fulfilment/<str:public_id>/cancel/", views.order_cancel, name="order_cancel"),
    path("pick/customers/", views.pick_customer, name="pick_customer"),
    path("pick/products/", views.pick_product, name="pick_product"),
    path("transfers/", views.transfers, name="transfers"),
    path("transfers/ship/", views.transfer_ship, name="transfer_ship"),
    path("transfers/<str:public_id>/receive/", views.transfer_receive, name="transfer_receive"),
    path("discrepancies/", views.discrepancies, name="discrepancies"),
    path("discrepancies/<str:public_id>/resolve/", views.discrepancy_resolve, name="discrepancy_resolve"),
]
