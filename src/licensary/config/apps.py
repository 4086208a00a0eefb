from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class LicensaryAdminConfig(AdminConfig):
    """The admin with our site: optional TOTP for staff (see admin_site.py)."""

    default_site = "licensary.config.admin_site.LicensaryAdminSite"


class LicensaryConfig(AppConfig):
    """The composition root as an app, for the commands that span every app (`up`, `demo`,
    `serve`): they live here, above the apps they call, not in `core` below them."""

    name = "licensary.config"
    label = "licensary_config"
