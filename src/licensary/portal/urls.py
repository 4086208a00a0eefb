"""The portal's pages, under /portal/: one URL module per area, all in the `portal` namespace."""

from django.urls import include, path

app_name = "portal"

urlpatterns = [
    path("", include("licensary.portal.customer_urls")),
    path("staff/", include("licensary.portal.staff_urls")),
    path("agent/", include("licensary.portal.agent_urls")),
]
