from django.urls import path

from . import views

urlpatterns = [
    path("hub/messages/", views.InboundMessageView.as_view(), name="api-hub-messages"),
    path("hub/handoff/", views.HandoffView.as_view(), name="api-hub-handoff"),
    path("hub/email/", views.InboundEmailView.as_view(), name="api-hub-email"),
    path("hub/caller/", views.CallerLookupView.as_view(), name="api-hub-caller"),
]
