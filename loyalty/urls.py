from django.urls import path

from . import views

app_name = "loyalty"
urlpatterns = [
    path("finance/", views.finance, name="finance"),
    path("customers/<str:public_id>/points/", views.counter, name="counter"),
]
