from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path

from licensary.config.api import api
from licensary.config.health import healthz, readyz
from licensary.config.metrics import metrics


def home(request: HttpRequest) -> HttpResponse:
    return redirect("/api/docs")


def bench_constant(request: HttpRequest) -> HttpResponse:
    """A bare view returning constant JSON: the ceiling the verify benchmark compares with."""
    return HttpResponse(b'{"ok":true}', content_type="application/json")


urlpatterns = [
    path("", home),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("portal/", include("licensary.portal.urls")),
]
if settings.LICENSARY_BENCH_VIEWS:
    urlpatterns.append(path("bench/constant", bench_constant))
