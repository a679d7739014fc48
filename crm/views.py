from django.http import HttpResponse


def home(request):
    return HttpResponse("todo")


customer_search = duplicates = merge = customer_detail = set_language = home


def page_not_found(request, exception=None):
    return HttpResponse("not found", status=404)


def server_error(request):
    return HttpResponse("error", status=500)
