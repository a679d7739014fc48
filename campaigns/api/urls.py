from django.urls import path

from . import views

urlpatterns = [
    path("segments/", views.SegmentCreateView.as_view(), name="api-segments"),
    path("segments/preview/", views.SegmentPreviewView.as_view(), name="api-segment-preview"),
    path("segments/<str:segment_id>/", views.SegmentDetailView.as_view(), name="api-segment"),
    path("campaigns/", views.CampaignCreateView.as_view(), name="api-campaigns"),
    path("campaigns/<str:campaign_id>/", views.CampaignDetailView.as_view(), name="api-campaign"),
    path("campaigns/<str:campaign_id>/send/", views.CampaignSendView.as_view(), name="api-campaign-send"),
]
