"""Helpers for tests: a JSON API client per account, accounts, credit, running jobs."""

import json
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory

from licensary.accounts.identity import identity_submit, identity_verify
from licensary.accounts.models import User
from licensary.accounts.services import account_create, account_credit_adjust, token_create
from licensary.jobs.runner import run_pending_jobs


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


class Api:
    """A JSON client for one account (or anonymous)."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def _call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        extra = dict(self.headers)
        for name, value in headers.items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        kwargs: dict[str, Any] = {}
        if method != "get":
            data = "" if body is None else json.dumps(body)
            kwargs = {"data": data, "content_type": "application/json"}
        response = getattr(self.client, method)(f"/api/v1{path}", **kwargs, **extra)
        # A file download streams: it has no JSON body to read.
        response.json_body = (
            response.json() if not response.streaming and response.content else None
        )
        return response

    def get(self, path: str, **headers: str) -> Any:
        return self._call("get", path, **headers)

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self._call("post", path, body, **headers)

    def patch(self, path: str, body: Any = None, **headers: str) -> Any:
        return self._call("patch", path, body, **headers)

    def delete(self, path: str, **headers: str) -> Any:
        return self._call("delete", path, **headers)


def make_account(email: str, kind: str = "customer", agent: User | None = None) -> User:
    return account_create(actor=None, kind=kind, email=email, agent=agent)


def verified_agent(email: str, staff: User) -> User:
    """An agent whose identity staff verified (rule 12: only such an agent sells)."""
    agent = make_account(email, kind="agent")
    document = SimpleUploadedFile("id.png", b"\x89PNG\r\n\x1a\n" + email.encode())
    identity_submit(account=agent, file=document, actor=agent)
    return identity_verify(account=agent, actor=staff)


def api_for(user: User) -> Api:
    return Api(token_create(user=user)[1])


def give_credit(user: User, amount: int, staff: User) -> None:
    account_credit_adjust(account=user, amount=amount, note="test top-up", actor=staff)


def run_jobs() -> None:
    run_pending_jobs()


def signed_in_browser(user: User) -> Client:
    """A browser holding `user`'s session cookie that enforces CSRF as a real one meets it."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def csrf_token_for(browser: Client) -> str:
    """The token a page of ours would have put in its form, with its cookie in the browser."""
    request = RequestFactory().get("/")
    token = get_token(request)
    browser.cookies[settings.CSRF_COOKIE_NAME] = request.META["CSRF_COOKIE"]
    return token


PUBLIC_IP = "93.184.216.34"
OTHER_IP = "151.101.1.69"


def refusal(response: Any) -> dict[str, Any]:
    """A problem+json body without its request id (each request has its own), to compare two
    refusals: another account's object must be refused exactly as a made-up one."""
    body = response.json()
    body.pop("request_id", None)
    return dict(body)
