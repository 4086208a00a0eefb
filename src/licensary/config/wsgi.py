"""The WSGI applications `licensary serve` runs on granian: Django's own handler behind the
verification fast path (`application`), or the fast path alone (`verify_application`,
`licensary serve --verify-only`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "licensary.config.settings")
django_application = get_wsgi_application()

from licensary.verification.fastpath import VerifyFastPath  # noqa: E402  (needs the apps loaded)

application = VerifyFastPath(django_application)
verify_application = VerifyFastPath(django_application, verify_only=True)
