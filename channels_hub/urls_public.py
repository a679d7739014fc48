"""Pages for customers, no login: the web contact form and the CSAT survey (included at the root)."""

from django.urls import path

from . import views

app_name = "channels_hub_public"
urlpatterns = [
    path("contact/", views.contact, name="contact"),
    path("survey/<str:token>/", views.survey, name="survey"),
]
