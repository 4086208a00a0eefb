from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path

from licensary.config.api import api


def home(request: HttpRequest) -> HttpResponse:
    return redirect("/api/docs")


urlpatterns = [
    path("", home),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
