from django.urls import path

from . import views

urlpatterns = [
    path("loyalty/<str:customer_id>/", views.BalanceView.as_view(), name="api-loyalty"),
    path(
        "loyalty/<str:customer_id>/transactions/", views.TransactionListView.as_view(), name="api-loyalty-transactions"
    ),
    path("loyalty/<str:customer_id>/redeem/", views.RedeemView.as_view(), name="api-loyalty-redeem"),
    path("loyalty/<str:customer_id>/adjust/", views.AdjustView.as_view(), name="api-loyalty-adjust"),
]
