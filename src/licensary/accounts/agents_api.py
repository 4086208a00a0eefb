"""Reports about agents (anyone signed in) and staff's warnings and view of an agent's
standing (rule 9)."""

from datetime import datetime
from typing import Annotated

from ninja import Router, Schema, Status

from licensary.accounts.agents import (
    agent_find,
    agent_report,
    agent_reports,
    agent_standing,
    agent_warn,
    agent_warnings,
)
from licensary.accounts.models import AgentReport, AgentWarning, User
from licensary.accounts.policy import require_staff
from licensary.core.api import Cursor, Limit, Page, paginate, parse_id
from licensary.core.http import AuthedRequest
from licensary.core.text import Id, Printable

router = Router(tags=["agents"])


class ReportIn(Schema):
    reason: Annotated[str, Printable(20)]  # misrepresented_kind, fraud, abuse, other
    details: Annotated[str, Printable(5000, min_length=1, multiline=True)]


class ReportOut(Schema):
    id: str
    agent: str
    reason: str
    details: str
    created_at: datetime


class StaffReportOut(ReportOut):
    reporter: str


class WarningIn(Schema):
    reason: Annotated[str, Printable(300, min_length=1, multiline=True)]


class WarningOut(Schema):
    id: str
    agent: str
    reason: str
    staff: str
    created_at: datetime


class StandingOut(Schema):
    agent: str
    reports: int
    warnings: int
    flagged_for_review: bool


def report_out(r: AgentReport) -> dict:
    return {
        "id": str(r.pk),
        "agent": str(r.agent_id),
        "reason": r.reason,
        "details": r.details,
        "created_at": r.created_at,
        "reporter": r.reporter.email,
    }


def warning_out(w: AgentWarning) -> dict:
    return {
        "id": str(w.pk),
        "agent": str(w.agent_id),
        "reason": w.reason,
        "staff": w.staff.email,
        "created_at": w.created_at,
    }


@router.post("/agents/{agent_id}/reports", response={201: ReportOut}, summary="Report an agent")
def report_agent(request: AuthedRequest[User], agent_id: Id, payload: ReportIn) -> Status:
    agent = agent_find(parse_id(agent_id))
    report = agent_report(
        agent=agent, reporter=request.auth, reason=payload.reason, details=payload.details
    )
    return Status(201, report_out(report))


@router.get("/agents/{agent_id}/reports", response=Page[StaffReportOut], summary="Staff")
def list_reports(
    request: AuthedRequest[User], agent_id: Id, limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    require_staff(request.auth, "read reports about agents")
    agent = agent_find(parse_id(agent_id))
    return paginate(agent_reports(agent), limit=limit, cursor=cursor, render=report_out)


@router.post("/agents/{agent_id}/warnings", response={201: WarningOut}, summary="Staff: warn")
def warn_agent(request: AuthedRequest[User], agent_id: Id, payload: WarningIn) -> Status:
    require_staff(request.auth, "warn agents")
    agent = agent_find(parse_id(agent_id))
    return Status(
        201, warning_out(agent_warn(agent=agent, actor=request.auth, reason=payload.reason))
    )


@router.get("/agents/{agent_id}/warnings", response=Page[WarningOut], summary="Staff")
def list_warnings(
    request: AuthedRequest[User], agent_id: Id, limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    require_staff(request.auth, "read warnings")
    agent = agent_find(parse_id(agent_id))
    return paginate(agent_warnings(agent), limit=limit, cursor=cursor, render=warning_out)


@router.get(
    "/agents/{agent_id}/standing",
    response=StandingOut,
    summary="Staff: the agent's reports and warnings; flagged for review from the third warning",
)
def standing(request: AuthedRequest[User], agent_id: Id) -> dict:
    require_staff(request.auth, "read an agent's standing")
    return agent_standing(agent_find(parse_id(agent_id)))
