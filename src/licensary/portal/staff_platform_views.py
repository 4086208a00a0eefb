"""The staff console's platform desks: jobs that failed every attempt (the dead-letter list,
each retried through `jobs.services.job_retry_dead`), the terms (publish a version, see who
accepted), and the supplier accounts (their health as the suppliers app records it, edited
through its service; secrets are written, never shown)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from licensary.accounts.models import User
from licensary.core.api import get_visible, paginate
from licensary.jobs.selectors import dead_jobs_open
from licensary.jobs.services import job_retry_dead
from licensary.portal.staff_views import PAGE_SIZE, staff_page


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
