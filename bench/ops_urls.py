from django.db import connection
from django.http import HttpResponse
from django.urls import path


def trivial(request):
    return HttpResponse(b"ok", content_type="text/plain")


def one_query(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/trivial/", trivial, name="bench-trivial"),
    path("bench/query/", one_query, name="bench-query"),
]
