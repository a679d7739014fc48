from django.urls import path

from . import views, views_journeys, webhooks

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="campaign_list"),
    path("new/", views.campaign_edit, name="campaign_new"),
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new/", views.segment_edit, name="segment_new"),
    path("segments/preview/", views.segment_preview, name="segment_preview"),
    path("segments/values/<slug:source>/", views.segment_values, name="segment_values"),
    path("segments/<str:public_id>/", views.segment_edit, name="segment_edit"),
    path("journeys/", views_journeys.journey_list, name="journey_list"),
    path("journeys/new/", views_journeys.journey_edit, name="journey_new"),
    path("journeys/<str:public_id>/", views_journeys.journey_detail, name="journey_detail"),
    path("journeys/<str:public_id>/edit/", views_journeys.journey_edit, name="journey_edit"),
    path("journeys/<str:public_id>/action/", views_journeys.journey_action, name="journey_action"),
    path("offers/", views_journeys.offer_list, name="offer_list"),
    path("offers/new/", views_journeys.offer_new, name="offer_new"),
    path("offers/<str:public_id>/", views_journeys.offer_detail, name="offer_detail"),
    path("p/<str:token>/", views_journeys.preferences, name="preferences"),
    path("p/<str:token>/stop/", views_journeys.unsubscribe_all, name="unsubscribe_all"),
    path("qr/<str:token>.svg", views_journeys.coupon_qr, name="coupon_qr"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("t/o/<str:token>/", views.track_open, name="track_open"),
    path("t/c/<str:token>/", views.track_click, name="track_click"),
    path("esp/tracking/", webhooks.esp_tracking_webhook, name="esp_tracking"),
    path("<str:public_id>/", views.campaign_detail, name="campaign_detail"),
    path("<str:public_id>/edit/", views.campaign_edit, name="campaign_edit"),
    path("<str:public_id>/preview/", views.campaign_preview, name="campaign_preview"),
    path("<str:public_id>/preview/html/", views.campaign_preview_html, name="campaign_preview_html"),
    path("<str:public_id>/test/", views.campaign_test_send, name="campaign_test_send"),
    path("<str:public_id>/action/", views.campaign_action, name="campaign_action"),
]
