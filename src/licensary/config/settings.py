"""The one settings module, read from the environment (API.md "Configuration")."""

import os
import secrets
from pathlib import Path
from typing import TypedDict

import dj_database_url

from licensary.core.env import env_bool, env_currency, env_int, env_list, env_str

BASE_DIR = Path(env_str("LICENSARY_HOME", str(Path.cwd()))).resolve()
DATA_DIR = Path(env_str("LICENSARY_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    configured = env_str("LICENSARY_SECRET_KEY")
    if configured:
        return configured
    # A generated key is kept so that sessions survive a restart.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("LICENSARY_DEBUG", False)
ALLOWED_HOSTS = env_list("LICENSARY_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("LICENSARY_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "licensary.config.apps.LicensaryAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "licensary.core",
    "licensary.audit",
    "licensary.accounts",
    "licensary.catalog",
    "licensary.ledger",
    "licensary.billing",
    "licensary.orders",
    "licensary.licenses",
    "licensary.jobs",
    "licensary.notifications",
    "licensary.verification",
    "licensary.suppliers",
    "licensary.support",
    "licensary.governance",
    "licensary.config.apps.LicensaryConfig",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_ratelimit",
    "ninja",  # its templates and static files: /api/docs loads Swagger UI from this server
    "django_htmx",
    "csp",
    "licensary.portal",  # the browser portals: server-rendered pages over the same services
]

MIDDLEWARE = [
    "licensary.config.middleware.AccessMiddleware",  # first: it times and logs every answer
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "licensary.portal.middleware.PortalLanguageMiddleware",  # reads the account's language
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "licensary.core.middleware.RequestContextMiddleware",
    "licensary.core.middleware.ApiAnswersJsonMiddleware",
    "licensary.core.middleware.RetryConflictsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "licensary.config.urls"
WSGI_APPLICATION = "licensary.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'licensary.sqlite3'}")
_db = dj_database_url.parse(DATABASE_URL)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so the web server and the worker queue up
    # behind each other (busy timeout) instead of failing with "database is locked".
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
    # Concurrency tests need a file database, never :memory:.
    # One file per test process, so that concurrent test runs never share a database.
    _db["TEST"] = {"NAME": str(DATA_DIR / f"test_{os.getpid()}.sqlite3")}
else:
    # A health check costs a round trip per request; without it the first query on a
    # connection broken by a database restart fails once (and the connection is replaced).
    _db["CONN_HEALTH_CHECKS"] = env_bool("LICENSARY_CONN_HEALTH_CHECKS", True)
# Persistent connections on both: opening SQLite costs more than the verify query itself.
_db["CONN_MAX_AGE"] = env_int("LICENSARY_CONN_MAX_AGE", 60)
DATABASES = {"default": _db}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out accounts and addresses first
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in throttling (ASVS 6.3.1): 5 failures lock the account, and separately the address
# (the proxy-aware client address), for 15 minutes.
AXES_FAILURE_LIMIT = env_int("LICENSARY_SIGNIN_FAILURES", 5)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = env_int("LICENSARY_SIGNIN_LOCKOUT_MINUTES", 15) / 60
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_CLIENT_IP_CALLABLE = "licensary.core.ip.client_ip"
AXES_VERBOSE = False
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The portals speak English (the default) and Persian (right to left, Jalali dates). The
# portal's catalog lives in its app's locale/ folder, which Django finds by itself.
LANGUAGES = [("en", "English"), ("fa", "فارسی")]
LOCALE_PATHS: list[Path] = []
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# The portals' sign-in page (the admin keeps its own, with TOTP).
LOGIN_URL = "portal:sign-in"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "portal:sign-in"
# A refused CSRF check is the portal's own page that says to reload, not Django's debug text.
CSRF_FAILURE_VIEW = "licensary.portal.errors.csrf_failure"

FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
DATA_UPLOAD_MAX_NUMBER_FILES = 5

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# WhiteNoise also serves straight from the apps' static folders, so that the API docs and the
# console work under `licensary serve` (and in tests) without a `collectstatic` first.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

TASKS = {
    "default": {
        "BACKEND": "licensary.jobs.backend.NotifyingDatabaseBackend",
        "QUEUES": ["default"],
    }
}

EMAIL_URL = env_str("EMAIL_URL")
if EMAIL_URL:
    import urllib.parse

    _email = urllib.parse.urlparse(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or 25
    EMAIL_HOST_USER = urllib.parse.unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = urllib.parse.unquote(_email.password or "")
    EMAIL_USE_TLS = _email.scheme == "smtp+tls"
    EMAIL_USE_SSL = _email.scheme == "smtps"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("LICENSARY_FROM_EMAIL", "billing@licensary.localhost")

# One JSON object a line (core/logging.py), with the request id; LICENSARY_LOG_FORMAT=text for
# plain lines (the default while developing).
LOG_FORMAT = env_str("LICENSARY_LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "licensary.core.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        # The web processes of `licensary serve` write their lines in batches, at most a second
        # late (config/logs.py): a flush per line under the handler's lock was where busy
        # verification threads queued. Elsewhere (the worker, commands, tests) line by line.
        "console": {
            "class": "licensary.config.logs.BufferedStreamHandler"
            if env_bool("LICENSARY_LOG_BUFFERED", False)
            else "logging.StreamHandler",
            "formatter": "text" if LOG_FORMAT == "text" else "json",
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LICENSARY_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Our access line replaces Django's own request lines (which print query strings).
        "django.server": {"level": "WARNING"},
    },
}

# Production hardening. LICENSARY_SECURE=true when served over TLS (directly or behind a
# trusted proxy that sets X-Forwarded-Proto): redirects, HSTS and secure cookies.
SECURE = env_bool("LICENSARY_SECURE", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE
# Probes and scrapers on the internal network speak plain HTTP to the process itself.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = 31_536_000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
if SECURE and env_list("LICENSARY_TRUSTED_PROXIES", []):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every answer (django-csp): nothing but this server's own files,
# no inline script anywhere (htmx is configured from a <meta> tag), no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

NINJA_PAGINATION_MAX_LIMIT = 200

# The verification throttle counts in this cache: per process by default; point
# LICENSARY_CACHE_URL at Redis (redis://host:6379/0) to share counts between processes.
CACHE_URL = env_str("LICENSARY_CACHE_URL")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "licensary"}
}
# Without Redis each process counts on its own (the embedded default, documented in the
# README); django-ratelimit flags that, and we accept it knowingly.
SILENCED_SYSTEM_CHECKS = [] if CACHE_URL else ["django_ratelimit.E003", "django_ratelimit.W001"]

# Payment gateways. STRIPE_API_BASE points the library elsewhere (tests, a local mock).
STRIPE_API_KEY = env_str("STRIPE_API_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_str("STRIPE_API_BASE")
# Zarinpal: one host serves its API and its StartPay page; https://sandbox.zarinpal.com is
# its sandbox. Without a merchant id, checkouts at Zarinpal are refused.
ZARINPAL_BASE_URL = env_str("ZARINPAL_BASE_URL", "https://payment.zarinpal.com").rstrip("/")
ZARINPAL_MERCHANT_ID = env_str("ZARINPAL_MERCHANT_ID")
LICENSARY_BENCH_VIEWS = env_bool("LICENSARY_BENCH_VIEWS", False)
# Operations: /readyz wants a worker beat and a successful sweep younger than these; /metrics
# answers a bearer of METRICS_TOKEN, or (no token set) only a caller on this machine.
READY_WORKER_SECONDS = env_int("LICENSARY_READY_WORKER_SECONDS", 120)
READY_SWEEP_SECONDS = env_int("LICENSARY_READY_SWEEP_SECONDS", 600)
METRICS_TOKEN = env_str("LICENSARY_METRICS_TOKEN")
PUBLIC_URL = env_str("LICENSARY_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")


class DomainSettings(TypedDict):
    """What LICENSARY holds, typed: mypy's django-stubs reads this module, so every
    `settings.LICENSARY[...]` has its type where it is read."""

    CURRENCY: str
    PERIOD_DAYS: int
    RENEWAL_NOTICE_DAYS: int
    REMINDER_DAYS: list[int]
    CANCEL_AFTER_BLOCK_DAYS: int
    DELETE_AFTER_BLOCK_MONTHS: int
    REVIEW_TARGET_HOURS: int
    NEW_ORDER_DUE_DAYS: int
    IP_CHANGES_PER_PERIOD: int
    SWEEP_BATCH: int
    JOB_MAX_ATTEMPTS: int
    JOB_LEASE_SECONDS: int
    JOB_POLL_MS: int
    ALLOW_PRIVATE_IPS: bool
    TRUSTED_PROXIES: list[str]
    AUDIT_HEAD_FILE: str
    VERIFY_RATE: str
    KEY_NOTICE_HOURS: int
    MAX_DEPOSIT: int
    SUPPORT_OPEN_TICKETS: int
    SUPPORT_MESSAGES_PER_HOUR: int
    WEBHOOK_RETRY_SECONDS: list[int]
    WEBHOOK_RETRY_HOURS: int
    WEBHOOK_DISABLE_AFTER_DAYS: int
    WEBHOOK_TIMEOUT_SECONDS: int
    WEBHOOK_SECRET_OVERLAP_HOURS: int
    WEBHOOK_MAX_ENDPOINTS: int
    AGENTS_MUST_BE_VERIFIED: bool


# Domain settings (DESIGN.md "every number below is a setting with this default").
LICENSARY: DomainSettings = {
    "CURRENCY": env_currency("LICENSARY_CURRENCY", "USD"),
    "PERIOD_DAYS": env_int("LICENSARY_PERIOD_DAYS", 30),
    "RENEWAL_NOTICE_DAYS": env_int("LICENSARY_RENEWAL_NOTICE_DAYS", 7),
    "REMINDER_DAYS": [7, 3, 1],
    "CANCEL_AFTER_BLOCK_DAYS": env_int("LICENSARY_CANCEL_AFTER_BLOCK_DAYS", 7),
    "DELETE_AFTER_BLOCK_MONTHS": env_int("LICENSARY_DELETE_AFTER_BLOCK_MONTHS", 4),
    "REVIEW_TARGET_HOURS": env_int("LICENSARY_REVIEW_TARGET_HOURS", 48),
    "NEW_ORDER_DUE_DAYS": env_int("LICENSARY_NEW_ORDER_DUE_DAYS", 7),
    "IP_CHANGES_PER_PERIOD": env_int("LICENSARY_IP_CHANGES_PER_PERIOD", 3),
    "SWEEP_BATCH": env_int("LICENSARY_SWEEP_BATCH", 20000),
    "JOB_MAX_ATTEMPTS": env_int("LICENSARY_JOB_MAX_ATTEMPTS", 5),
    "JOB_LEASE_SECONDS": env_int("LICENSARY_JOB_LEASE_SECONDS", 300),
    # A worker's look at the queue when nothing woke it: on PostgreSQL an enqueue wakes the
    # workers at once (LISTEN/NOTIFY) and this is the fallback; SQLite has only the poll.
    "JOB_POLL_MS": env_int("LICENSARY_JOB_POLL_MS", 1000),
    "ALLOW_PRIVATE_IPS": env_bool("LICENSARY_ALLOW_PRIVATE_IPS", DEBUG),
    "TRUSTED_PROXIES": env_list("LICENSARY_TRUSTED_PROXIES", []),
    "AUDIT_HEAD_FILE": str(DATA_DIR / "audit_head"),
    "VERIFY_RATE": env_str("LICENSARY_VERIFY_RATE", "120/m"),
    # How long a new signing key is published as `next` before it signs (API.md key rotation).
    "KEY_NOTICE_HOURS": env_int("LICENSARY_KEY_NOTICE_HOURS", 72),
    "MAX_DEPOSIT": env_int("LICENSARY_MAX_DEPOSIT", 10_000_000),
    # Rule 13's spam throttles, per account.
    # Rule 12: an agent sells only once staff verified its identity.
    "AGENTS_MUST_BE_VERIFIED": env_bool("LICENSARY_AGENTS_MUST_BE_VERIFIED", True),
    "SUPPORT_OPEN_TICKETS": env_int("LICENSARY_SUPPORT_OPEN_TICKETS", 3),
    "SUPPORT_MESSAGES_PER_HOUR": env_int("LICENSARY_SUPPORT_MESSAGES_PER_HOUR", 10),
    # Agents' webhooks: the waits between attempts (the Standard Webhooks schedule; the last
    # repeats) for WEBHOOK_RETRY_HOURS from the first; an endpoint failing without a success for
    # WEBHOOK_DISABLE_AFTER_DAYS is disabled; a rotated secret signs beside the new one for
    # WEBHOOK_SECRET_OVERLAP_HOURS.
    "WEBHOOK_RETRY_SECONDS": [5, 300, 1800, 7200, 18000, 36000],
    "WEBHOOK_RETRY_HOURS": env_int("LICENSARY_WEBHOOK_RETRY_HOURS", 24),
    "WEBHOOK_DISABLE_AFTER_DAYS": env_int("LICENSARY_WEBHOOK_DISABLE_AFTER_DAYS", 3),
    "WEBHOOK_TIMEOUT_SECONDS": env_int("LICENSARY_WEBHOOK_TIMEOUT_SECONDS", 10),
    "WEBHOOK_SECRET_OVERLAP_HOURS": env_int("LICENSARY_WEBHOOK_SECRET_OVERLAP_HOURS", 24),
    "WEBHOOK_MAX_ENDPOINTS": env_int("LICENSARY_WEBHOOK_MAX_ENDPOINTS", 10),
}
