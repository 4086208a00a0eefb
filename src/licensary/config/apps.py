from django.contrib.admin.apps import AdminConfig


class LicensaryAdminConfig(AdminConfig):
    """The admin with our site: optional TOTP for staff (see admin_site.py)."""

    default_site = "licensary.config.admin_site.LicensaryAdminSite"
