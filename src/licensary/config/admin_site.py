"""The admin: staff sign in with their email, and a second factor (TOTP) once they set one up."""

from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django_otp import devices_for_user, user_has_device
from django_otp.admin import OTPAdminAuthenticationForm


class OptionalOTPAuthenticationForm(OTPAdminAuthenticationForm):
    """The token is asked only of accounts that have confirmed a TOTP device (ASVS 6.3.2)."""

    def clean_otp(self, user: Any) -> None:
        if user is not None and not any(devices_for_user(user, confirmed=True)):
            return
        super().clean_otp(user)


class LicensaryAdminSite(AdminSite):
    site_header = "Licensary staff console"
    site_title = "Licensary"
    login_form = OptionalOTPAuthenticationForm
    login_template = "otp/admin111/login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not super().has_permission(request):
            return False
        # A staff member with a device must have used it in this session.
        # django-otp's middleware puts `is_verified` on the user; it ships no types.
        is_verified = getattr(user, "is_verified", None)
        return bool(is_verified and is_verified()) or not user_has_device(user, confirmed=True)
