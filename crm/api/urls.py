from django.urls import path

from . import views

urlpatterns = [
    path("stores/", views.StoreListView.as_view(), name="api-stores"),
    path("products/", views.ProductListView.as_view(), name="api-products"),
    path("products/<str:sku>/", views.ProductView.as_view(), name="api-product"),
    path("customers/", views.CustomerListView.as_view(), name="api-customers"),
    path("customers/resolve/", views.CustomerResolveView.as_view(), name="api-customer-resolve"),
    path("customers/link/", views.CustomerLinkView.as_view(), name="api-customer-link"),
    path("customers/<str:customer_id>/", views.CustomerDetailView.as_view(), name="api-customer"),
    path("customers/<str:customer_id>/timeline/", views.CustomerTimelineView.as_view(), name="api-customer-timeline"),
    path("orders/", views.OrderCreateView.as_view(), name="api-orders"),
    path("orders/<str:order_id>/", views.OrderDetailView.as_view(), name="api-order"),
    path("orders/<str:order_id>/returns/", views.OrderReturnView.as_view(), name="api-order-returns"),
    path("orders/<str:order_id>/ship/", views.OrderShipView.as_view(), name="api-order-ship"),
    path("orders/<str:order_id>/ready/", views.OrderReadyView.as_view(), name="api-order-ready"),
    path("orders/<str:order_id>/collect/", views.OrderCollectView.as_view(), name="api-order-collect"),
    path("orders/<str:order_id>/cancel/", views.OrderCancelView.as_view(), name="api-order-cancel"),
]
