"""The project's URLs plus the two baselines of the served benchmark, under /api/v1/ like the reads so
that every row goes through the same middleware:

- `bench/plain/`: a plain Django view (no DRF), the ceiling of the project's middleware stack;
- `bench/trivial/`: a do-nothing DRF view with the project's API-key authentication, scope
  permission, throttle and renderer: the ceiling of any API endpoint.
"""

from django.http import JsonResponse
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.urls import handler404, handler500  # noqa: F401
from crm.urls import urlpatterns as project_urlpatterns


def plain(request):
    return JsonResponse({"ok": True})


class Trivial(APIView):
    required_scope = "customers:read"

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("api/v1/bench/plain/", plain),
    path("api/v1/bench/trivial/", Trivial.as_view()),
    *project_urlpatterns,
]
