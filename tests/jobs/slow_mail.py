"""An email backend whose every message takes its time to send (the test says what happens
meanwhile), for the tests of long mail batches."""

from collections.abc import Callable, Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.locmem import EmailBackend

WHILE_SENDING: list[Callable[[], None]] = []  # run once per message, after it is sent


class SlowEmailBackend(EmailBackend):
    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in messages:
            sent += super().send_messages([message])
            for meanwhile in list(WHILE_SENDING):
                meanwhile()
        return sent
