"""Signing in and out, the terms prompt, and the language switch."""

from typing import Any

from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from licensary.accounts.services import (
    terms_accept,
    terms_accepted_version,
    terms_latest,
)
from licensary.core.errors import DomainError
from licensary.core.ip import client_ip
from licensary.portal.errors import domain_error_page
from licensary.portal.forms import SignInForm, TermsForm
from licensary.portal.pages import signed_in_user


class SignInView(LoginView):
    """Django's sign-in (its session, axes' lockout and the sign-in audit entry)."""

    template_name = "portal/sign_in.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


class SignOutView(LogoutView):
    """Sign out is a POST (a link could be followed by any page)."""


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


__all__ = ["SignInView", "SignOutView", "terms"]
