from django.utils import translation


class UserLanguageMiddleware:
    """Staff pages speak the language the signed-in user chose (default ja); LocaleMiddleware has
    already picked one from the session/cookie/browser for everyone else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "language", None):
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
