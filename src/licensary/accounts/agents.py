"""Reports about agents and staff's warnings to them (rule 9). Anyone signed in may report
an agent (at most `REPORTS_PER_HOUR` an hour); staff record warnings, and from the third an
agent is flagged for review (`agent_standing`)."""

from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from licensary.accounts import events as account_events
from licensary.accounts.models import AgentReport, AgentWarning, User
from licensary.accounts.policy import require_staff
from licensary.core.errors import NotFound, RateLimited, ValidationFailed

REPORTS_PER_HOUR = 5
FLAG_AT_WARNINGS = 3


def agent_find(agent_id: int) -> User:
    agent = User.objects.filter(pk=agent_id, kind=User.Kind.AGENT).first()
    if agent is None:
        raise NotFound("No such agent.")
    return agent


def agent_report(*, agent: User, reporter: User, reason: str, details: str) -> AgentReport:
    if reason not in AgentReport.Reason.values:
        raise ValidationFailed(f"reason must be one of {', '.join(AgentReport.Reason.values)}.")
    details = (details or "").strip()
    if not details:
        raise ValidationFailed("details: say what happened.")
    if reporter.pk == agent.pk:
        raise ValidationFailed("An agent does not report itself.")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=reporter.pk).values_list("pk").get()
        now = timezone.now()
        recent = AgentReport.objects.filter(
            reporter=reporter, created_at__gt=now - timedelta(hours=1)
        )
        if recent.count() >= REPORTS_PER_HOUR:
            raise RateLimited(
                f"At most {REPORTS_PER_HOUR} reports an hour.", headers={"Retry-After": "3600"}
            )
        report = AgentReport.objects.create(
            agent=agent, reporter=reporter, reason=reason, details=details[:5000], created_at=now
        )
        account_events.agent_reported(report)
    return report


def agent_warn(
    *, agent: User, actor: User, reason: str, report: AgentReport | None = None
) -> AgentWarning:
    require_staff(actor, "warn agents")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say what the warning is for.")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=agent.pk).values_list("pk").get()
        warning = AgentWarning.objects.create(
            agent=agent, staff=actor, reason=reason[:300], report=report, created_at=timezone.now()
        )
        count = AgentWarning.objects.filter(agent=agent).count()
        account_events.agent_warned(warning, count=count, flagged=count >= FLAG_AT_WARNINGS)
    return warning


def agent_standing(agent: User) -> dict[str, object]:
    warnings = AgentWarning.objects.filter(agent=agent).count()
    return {
        "agent": str(agent.pk),
        "reports": AgentReport.objects.filter(agent=agent).count(),
        "warnings": warnings,
        "flagged_for_review": warnings >= FLAG_AT_WARNINGS,
    }


def agent_reports(agent: User) -> QuerySet[AgentReport]:
    return AgentReport.objects.filter(agent=agent).select_related("reporter")


def agent_warnings(agent: User) -> QuerySet[AgentWarning]:
    return AgentWarning.objects.filter(agent=agent).select_related("staff")
