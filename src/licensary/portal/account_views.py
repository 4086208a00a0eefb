"""Signing in and out, the password (reset by mail, change), the terms prompt, the account's
own settings (language, time zone) and the language switch."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.views import (
    LoginView,
    LogoutView,
    PasswordResetCompleteView,
    PasswordResetConfirmView,
    PasswordResetDoneView,
    PasswordResetView,
)
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_ratelimit.core import is_ratelimited

from licensary.accounts.models import User
from licensary.accounts.services import (
    account_preferences_set,
    terms_accept,
    terms_accepted_version,
    terms_latest,
)
from licensary.core.errors import DomainError
from licensary.core.ip import client_ip
from licensary.portal.errors import domain_error_page, error_page, explained
from licensary.portal.forms import (
    AccountSettingsForm,
    ChangePasswordForm,
    NewPasswordForm,
    ResetRequestForm,
    SignInCodeForm,
    SignInForm,
    TermsForm,
)
from licensary.portal.middleware import SUPPORTED
from licensary.portal.pages import page, signed_in_user, staff_needs_code

# Reset mails asked for from one address (each one is an audit entry and a job).
RESET_RATE = "10/h"


class SignInView(LoginView):
    """Django's sign-in (its session, axes' lockout and the sign-in audit entry)."""

    template_name = "portal/sign_in.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


def sign_in_code(request: HttpRequest) -> HttpResponse:
    """The second step of signing in for staff with an authenticator: the current TOTP code
    (django-otp's device verifies it, and throttles wrong ones); then on to `next`."""
    user = signed_in_user(request)
    if user is None:
        return redirect("portal:sign-in")
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = ""
    target = target or reverse("portal:staff-dashboard")
    if not staff_needs_code(request, user):
        return redirect(target)
    form = SignInCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"].strip()
        for device in devices_for_user(user, confirmed=True):
            if device.verify_is_allowed()[0] and device.verify_token(code):
                otp_login(request, device)
                return redirect(target)
        form.add_error("code", _("That code is not right, or it was used already."))
    return render(request, "portal/sign_in_code.html", {"form": form, "next": target})


class SignOutView(LogoutView):
    """Sign out is a POST (a link could be followed by any page)."""


class ResetRequestView(PasswordResetView):
    """Ask for a reset link by e-mail: the same answer whether an account has that address
    or not; the mail is the outbox's job (`ResetRequestForm.save`)."""

    template_name = "portal/password/reset.html"
    form_class = ResetRequestForm
    success_url = reverse_lazy("portal:password-reset-done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if is_ratelimited(
            request,
            group="password-reset",
            key=lambda group, request: client_ip(request),
            increment=True,
            rate=RESET_RATE,
        ):
            return error_page(request, code="rate_limited", status=429)
        return super().post(request, *args, **kwargs)


class ResetDoneView(PasswordResetDoneView):
    template_name = "portal/password/reset_done.html"


class ResetConfirmView(PasswordResetConfirmView):
    """The link from the mail: a new password, twice (Django checks the link's token: once,
    and only until the password changes or PASSWORD_RESET_TIMEOUT passes)."""

    template_name = "portal/password/reset_confirm.html"
    form_class = NewPasswordForm
    success_url = reverse_lazy("portal:password-reset-complete")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        heading, explanation = explained("invalid_link")
        return {**context, "code": "invalid_link", "heading": heading, "explanation": explanation}


class ResetCompleteView(PasswordResetCompleteView):
    template_name = "portal/password/reset_complete.html"


@page
def password_change(request: HttpRequest, user: User) -> HttpResponse:
    """The account's own password change: every other session and every API token ends;
    this browser stays signed in."""
    form = ChangePasswordForm(user, request.POST or None, keep_session=request.session.session_key)
    if request.method == "POST":
        if form.is_valid():
            changed = form.save()
            update_session_auth_hash(request, changed)
            messages.success(
                request,
                _("Your password is changed. Every other session and every API token ended."),
            )
            return redirect("portal:account")
        return render(request, "portal/account/password.html", {"form": form}, status=422)
    return render(request, "portal/account/password.html", {"form": form})


@page
def account_settings(request: HttpRequest, user: User) -> HttpResponse:
    """The account's language and time zone."""
    initial = {"language": user.language, "time_zone": user.time_zone}
    form = AccountSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            account_preferences_set(
                account=user,
                actor=user,
                language=form.cleaned_data["language"],
                time_zone=form.cleaned_data["time_zone"],
            )
            response = redirect("portal:account")
            _remember_language(response, user.language)
            # Said in the language just chosen: the next page is written in it.
            with translation.override(form.cleaned_data["language"]):
                messages.success(request, _("Your settings are saved."))
            return response
        context = {"form": form, "now": timezone.now()}
        return render(request, "portal/account/settings.html", context, status=422)
    return render(request, "portal/account/settings.html", {"form": form, "now": timezone.now()})


def _remember_language(response: HttpResponse, language: str) -> None:
    """This browser keeps the choice after signing out (Django's language cookie)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The top bar's switch: Django's `set_language` (the cookie, back to `next`); for a
    signed-in account it is also the account's language, its mail's included."""
    user = signed_in_user(request)
    language = request.POST.get("language", "")
    if user is not None and language in SUPPORTED:
        try:
            account_preferences_set(account=user, actor=user, language=language)
        except DomainError as exc:
            return domain_error_page(request, exc)
    return set_language(request)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def terms(request: HttpRequest) -> HttpResponse:
    """The latest terms, with its version and date; accepting them continues to `next`."""
    user = signed_in_user(request)
    if user is None:
        return redirect(f"{reverse('portal:sign-in')}?next={reverse('portal:terms')}")
    latest = terms_latest()
    next_url = _safe_next(request, reverse("portal:dashboard"))
    accepted = terms_accepted_version(user)
    context: dict[str, Any] = {"terms": latest, "accepted": accepted, "next": next_url}
    if request.method == "POST":
        form = TermsForm(request.POST)
        if form.is_valid():
            try:
                terms_accept(user=user, version=form.cleaned_data["version"], ip=client_ip(request))
            except DomainError as exc:
                return domain_error_page(request, exc)
            return redirect(next_url)
        context["form"] = form
        return render(request, "portal/terms.html", context, status=422)
    context["form"] = TermsForm(initial={"version": latest.version if latest else None})
    return render(request, "portal/terms.html", context)


__all__ = [
    "ResetCompleteView",
    "ResetConfirmView",
    "ResetDoneView",
    "ResetRequestView",
    "SignInView",
    "SignOutView",
    "account_settings",
    "language_switch",
    "password_change",
    "terms",
]
