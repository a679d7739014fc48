"""Public URLs of the LINE channel, included at the root: LINE calls /hooks/line/<name>/, LINE users
open /line/<name>/link/?linkToken=…; agents open images users sent at /hub/line/messages/<id>/image/."""

from django.urls import path

from . import views

app_name = "line"
urlpatterns = [
    path("hooks/line/<slug:name>/", views.webhook, name="webhook"),
    path("line/<slug:name>/link/", views.link, name="link"),
    path("hub/line/messages/<str:public_id>/image/", views.image, name="image"),  # staff
]
