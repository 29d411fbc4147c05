from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import render

from .views import healthz


class HealthCheckMiddleware:
    """Answers /healthz before host validation and the HTTPS redirect, so a load balancer or the
    container's HEALTHCHECK can probe any instance by its IP over plain HTTP."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path_info == "/healthz":
            return healthz(request)
        return self.get_response(request)


class RequestSizeLimitMiddleware:
    """Refuses a request body larger than MAX_REQUEST_BYTES with 413 before anything reads it:
    Django's CSRF check would otherwise parse (and spool to disk) a whole oversized upload
    before the view could refuse it. The largest legitimate body is a 10 MB CSV import."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            return render(request, "errors/413.html", status=413)
        return self.get_response(request)
