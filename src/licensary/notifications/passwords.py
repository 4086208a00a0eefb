"""The password-reset mail: the link is made when the job runs (Django's token generator, so
it is never in the job's row or the audit log), and sent at most once per account and window
(its dedupe key), however often the reset is asked for: asking again cannot flood a mailbox."""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from licensary.accounts.models import User
from licensary.jobs.tasks import durable_task
from licensary.notifications.mail import Mail, mails_queue_and_send

RESET_MAIL_WINDOW_SECONDS = 15 * 60
# The portal's page that takes the link (a URL name: notifications imports no portal code).
RESET_CONFIRM_URL = "portal:password-reset-confirm"


def password_reset_link(account: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(account.pk))
    token = default_token_generator.make_token(account)
    path = reverse(RESET_CONFIRM_URL, kwargs={"uidb64": uid, "token": token})
    return f"{settings.PUBLIC_URL}{path}"


@durable_task
def notify_password_reset(*, account_id: int) -> int:
    account = User.objects.select_related("agent").filter(pk=account_id, is_active=True).first()
    if account is None:
        return 0
    window = int(timezone.now().timestamp()) // RESET_MAIL_WINDOW_SECONDS
    hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    return mails_queue_and_send(
        [
            Mail(
                key=f"account.password_reset:{account.pk}:{window}",
                to=account,
                template="password_reset",
                context={"link": password_reset_link(account), "hours": hours},
            )
        ]
    )
