"""Sign-ins are sensitive actions: each success and failure writes one audit entry."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.dispatch import receiver

from licensary.accounts import events as account_events


@receiver(user_logged_in, dispatch_uid="licensary_signin_audit")
def _signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    with transaction.atomic():
        account_events.account_signed_in(user)


@receiver(user_login_failed, dispatch_uid="licensary_signin_failed_audit")
def _sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    with transaction.atomic():
        account_events.account_sign_in_failed(str(credentials.get("username", "")))
