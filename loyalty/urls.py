from django.urls import path

from . import views

app_name = "loyalty"
urlpatterns = [
    path("finance/", views.finance, name="finance"),
    path("approvals/", views.approvals, name="approvals"),
    path("customers/<str:public_id>/points/", views.counter, name="counter"),
]
