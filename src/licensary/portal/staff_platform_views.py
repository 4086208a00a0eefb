"""The staff console's platform desks: jobs that failed every attempt (the dead-letter list,
each retried through `jobs.services.job_retry_dead`), the terms (publish a version, see who
accepted), and the supplier accounts (their health as the suppliers app records it, edited
through its service; secrets are written, never shown)."""

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from licensary.accounts.models import User
from licensary.accounts.selectors import (
    accounts_yet_to_accept,
    terms_acceptances_of,
    terms_versions_with_acceptances,
)
from licensary.accounts.services import terms_publish
from licensary.core.api import get_visible, paginate
from licensary.core.errors import NotFound
from licensary.jobs.selectors import dead_jobs_open
from licensary.jobs.services import job_retry_dead
from licensary.portal.formatting import local_digits
from licensary.portal.staff_forms import SupplierForm, TermsPublishForm
from licensary.portal.staff_views import PAGE_SIZE, staff_page
from licensary.suppliers.selectors import supplier_get, suppliers_with_health
from licensary.suppliers.services import supplier_update


def _cursor(request: HttpRequest) -> str | None:
    return request.GET.get("cursor") or None


# Dead jobs ---------------------------------------------------------------------------------


@staff_page
def dead_jobs(request: HttpRequest, user: User) -> HttpResponse:
    listed = paginate(
        dead_jobs_open(),
        limit=PAGE_SIZE,
        cursor=_cursor(request),
        render=lambda d: {"job": d, "error_tail": d.error.strip().splitlines()[-1:]},
        order=("-created_at", "-pk"),
    )
    return render(
        request,
        "portal/staff/dead_jobs.html",
        {"rows": listed["items"], "next_cursor": listed["next_cursor"]},
    )


@staff_page
@require_POST
def dead_job_retry_view(request: HttpRequest, user: User, job_id: int) -> HttpResponse:
    dead = get_visible(dead_jobs_open(), job_id)
    job_retry_dead(dead_job=dead, actor=user)
    messages.success(request, _("The job is queued again, from its first attempt."))
    return redirect("portal:staff-dead-jobs")


# Terms -------------------------------------------------------------------------------------


def _terms_page(
    request: HttpRequest, user: User, *, form: TermsPublishForm | None = None
) -> HttpResponse:
    versions = list(terms_versions_with_acceptances()[:PAGE_SIZE])
    latest = versions[0] if versions else None
    return render(
        request,
        "portal/staff/terms.html",
        {
            "form": form or TermsPublishForm(),
            "versions": versions,
            "latest": latest,
            "yet_to_accept": accounts_yet_to_accept(latest).count() if latest else 0,
        },
        status=422 if form is not None else 200,
    )


@staff_page
def terms(request: HttpRequest, user: User) -> HttpResponse:
    return _terms_page(request, user)


@staff_page
@require_POST
def terms_publish_view(request: HttpRequest, user: User) -> HttpResponse:
    form = TermsPublishForm(request.POST)
    if not form.is_valid():
        return _terms_page(request, user, form=form)
    published = terms_publish(text=form.cleaned_data["text"], actor=user)
    messages.success(
        request,
        _(
            "Version %(version)s is published and binding now: every account accepts it "
            "before it orders, pays, renews or transfers again."
        )
        % {"version": local_digits(str(published.version))},
    )
    return redirect("portal:staff-terms")


@staff_page
def terms_acceptances(request: HttpRequest, user: User, version: int) -> HttpResponse:
    found = terms_versions_with_acceptances().filter(version=version).first()
    if found is None:
        raise NotFound(f"No terms version {version}.")
    listed = paginate(
        terms_acceptances_of(found),
        limit=PAGE_SIZE,
        cursor=_cursor(request),
        render=lambda a: a,
        order=("-accepted_at", "-pk"),
    )
    return render(
        request,
        "portal/staff/terms_acceptances.html",
        {"terms": found, "rows": listed["items"], "next_cursor": listed["next_cursor"]},
    )


# Suppliers ---------------------------------------------------------------------------------

HEALTH_HOURS = 24


def _suppliers_page(
    request: HttpRequest, user: User, *, editing: tuple[str, SupplierForm] | None = None
) -> HttpResponse:
    since = timezone.now() - timedelta(hours=HEALTH_HOURS)
    rows = [
        {
            "supplier": s,
            "form": editing[1]
            if editing and editing[0] == s.name
            else SupplierForm(
                auto_id=f"{s.name}-%s",
                initial={
                    "base_url": s.base_url,
                    "username": s.username,
                    "timeout_seconds": s.timeout_seconds,
                    "active": s.active,
                },
            ),
        }
        for s in suppliers_with_health(since=since)
    ]
    return render(
        request,
        "portal/staff/suppliers.html",
        {"rows": rows, "hours": HEALTH_HOURS},
        status=422 if editing else 200,
    )


@staff_page
def suppliers(request: HttpRequest, user: User) -> HttpResponse:
    return _suppliers_page(request, user)


@staff_page
@require_POST
def supplier_edit_view(request: HttpRequest, user: User, name: str) -> HttpResponse:
    supplier = supplier_get(name)
    if supplier is None:
        raise NotFound(f"No supplier {name}.")
    form = SupplierForm(request.POST, auto_id=f"{supplier.name}-%s")
    if not form.is_valid():
        return _suppliers_page(request, user, editing=(supplier.name, form))
    data = form.cleaned_data
    current = {
        "base_url": supplier.base_url,
        "username": supplier.username,
        "timeout_seconds": supplier.timeout_seconds,
        "active": supplier.active,
    }
    changes = {key: data[key] for key in current if data[key] != current[key]}
    if data["password"]:
        changes["password"] = data["password"]
    if changes:
        supplier_update(actor=user, name=supplier.name, changes=changes)
        messages.success(
            request,
            _("%(name)s is saved: %(fields)s.")
            % {"name": supplier.name, "fields": ", ".join(sorted(changes))},
        )
    else:
        messages.info(request, _("Nothing changed."))
    return redirect("portal:staff-suppliers")
