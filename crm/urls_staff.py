from django.urls import path

from . import views

app_name = "crm"
urlpatterns = [
    path("", views.home, name="home"),
    path("customers/", views.customer_search, name="customer_search"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/duplicates/", views.duplicates, name="duplicates"),
    path("customers/merge/", views.merge, name="merge"),
    path("customers/<str:public_id>/", views.customer_detail, name="customer_detail"),
    path("customers/<str:public_id>/edit/", views.customer_edit, name="customer_edit"),
    path("me/language/", views.set_language, name="set_language"),
]
