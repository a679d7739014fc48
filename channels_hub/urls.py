from django.urls import path

from . import views

app_name = "channels_hub"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("tickets/<str:public_id>/", views.ticket_detail, name="ticket"),
    path("tickets/<str:public_id>/reply/", views.reply, name="reply"),
    path("tickets/<str:public_id>/replies/<str:message_id>/retry/", views.retry_reply, name="retry_reply"),
    path("tickets/<str:public_id>/note/", views.note, name="note"),
    path("tickets/<str:public_id>/call/", views.ticket_call, name="ticket_call"),
    path("tickets/<str:public_id>/update/", views.update, name="update"),
    path("tickets/<str:public_id>/merge/", views.merge, name="merge"),
    path("tickets/<str:public_id>/link-lead/", views.link_lead, name="link_lead"),
    path("tickets/<str:public_id>/create-customer/", views.create_customer_from_lead, name="create_customer"),
    path("customers/<str:public_id>/call/", views.customer_contact, {"kind": "call"}, name="customer_call"),
    path("customers/<str:public_id>/counter-note/", views.customer_contact, {"kind": "counter"}, name="counter_note"),
]
