from django.urls import path

from . import coupons, views

urlpatterns = [
    path("segments/", views.SegmentCreateView.as_view(), name="api-segments"),
    path("segments/preview/", views.SegmentPreviewView.as_view(), name="api-segment-preview"),
    path("segments/<str:segment_id>/", views.SegmentDetailView.as_view(), name="api-segment"),
    path("campaigns/", views.CampaignCreateView.as_view(), name="api-campaigns"),
    path("campaigns/<str:campaign_id>/", views.CampaignDetailView.as_view(), name="api-campaign"),
    path("campaigns/<str:campaign_id>/send/", views.CampaignSendView.as_view(), name="api-campaign-send"),
    path("offers/", coupons.OfferCreateView.as_view(), name="api-offers"),
    path("offers/<str:offer_id>/", coupons.OfferDetailView.as_view(), name="api-offer"),
    path("offers/<str:offer_id>/codes/", coupons.OfferCodeCreateView.as_view(), name="api-offer-codes"),
    path("coupons/validate/", coupons.CouponValidateView.as_view(), name="api-coupons-validate"),
]
