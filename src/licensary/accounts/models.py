"""Accounts (customers, agents, staff), their API tokens, and the versioned terms."""

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone

from licensary.accounts.scopes import ALL_SCOPES
from licensary.core.money import default_currency


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        if not email:
            raise ValueError("an account needs an email")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("kind", User.Kind.STAFF)
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """An account: it signs in with its email; an agent's customers point to the agent."""

    class Kind(models.TextChoices):
        CUSTOMER = "customer"
        AGENT = "agent"
        STAFF = "staff"

    class Status(models.TextChoices):
        ACTIVE = "active"
        BANNED = "banned"

    class BanReason(models.TextChoices):
        """Rule 6's reasons for a ban."""

        TAMPERING = "tampering"  # changes to the license software: manipulation, debugging, logs
        SHARING = "sharing"  # service access given to other companies or people
        FAKE_IDENTITY = "fake_identity"
        SUPPORT_SPAM = "support_spam"
        OTHER = "other"

    class Language(models.TextChoices):
        """The languages its e-mail is written in (the portals add their own strings)."""

        EN = "en", "English"
        FA = "fa", "Persian"

    class Identity(models.TextChoices):
        UNVERIFIED = "unverified"
        PENDING = "pending"
        VERIFIED = "verified"
        REJECTED = "rejected"

    email = models.EmailField(unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CUSTOMER)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    identity = models.CharField(
        max_length=16, choices=Identity.choices, default=Identity.UNVERIFIED
    )
    ban_reason = models.CharField(max_length=16, choices=BanReason.choices, blank=True)
    banned_at = models.DateTimeField(null=True, blank=True)
    agent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="customers"
    )
    # Its credit is kept in this currency: the platform's (LICENSARY_CURRENCY) when made.
    currency = models.CharField(max_length=3, default=default_currency)
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.EN)
    # The IANA time zone its dates are shown in (the portals); the API's times stay UTC.
    time_zone = models.CharField(max_length=64, default="UTC")
    # An agent's own name for the mail its customers get (white label); blank: the platform's.
    white_label_name = models.CharField(max_length=100, blank=True)
    is_staff = models.BooleanField(default=False)  # may use the Django admin
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Tokens made before this moment no longer work (ASVS 7.4.2); sessions end by Django's
    # own session hash, which changes with the password.
    password_changed_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(agent__isnull=True) | Q(kind="customer"),
                name="%(app_label)s_%(class)s_only_customers_have_agents",
                violation_error_message="Only customers can belong to an agent.",
            )
        ]

    def __str__(self) -> str:
        return self.email

    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        self.password_changed_at = timezone.now()

    @property
    def is_staff_account(self) -> bool:
        return self.kind == self.Kind.STAFF


def all_scopes() -> list[str]:
    return list(ALL_SCOPES)


class ApiToken(models.Model):
    """A bearer token: a short public prefix plus a 256-bit secret, stored as SHA-256."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # What it may do (`accounts.scopes`); a token made before scopes existed has them all.
    scopes = models.JSONField(default=all_scopes)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class TermsVersion(models.Model):
    """A published version of the terms; the latest is the only binding one."""

    version = models.PositiveIntegerField(unique=True)
    text = models.TextField()
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"terms v{self.version}"


class TermsAcceptance(models.Model):
    """Every acceptance is kept: account, version, time, IP."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="terms_acceptances"
    )
    terms = models.ForeignKey(TermsVersion, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(default=timezone.now)
    ip = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-terms"], name="terms_accept_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} accepted v{self.terms.version}"


class IdentityDocument(models.Model):
    """An identity document an account submitted (rule 12), checked and stored as receipts
    are; staff verify or reject it with a reason the account is told."""

    class Status(models.TextChoices):
        PENDING = "pending"
        VERIFIED = "verified"
        REJECTED = "rejected"

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="identity_documents"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stored_name = models.CharField(max_length=64)
    original_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    reason = models.CharField(max_length=300, blank=True)  # why rejected
    submitted_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status="pending"),
                name="%(app_label)s_%(class)s_one_pending_per_account",
                violation_error_message="An identity document is waiting for staff already.",
            )
        ]

    def __str__(self) -> str:
        return f"identity document {self.pk} of account {self.account_id} {self.status}"


class AgentReport(models.Model):
    """Anyone's report about an agent (rule 9): presenting a system license as an original
    one, fraud, abuse. Staff read them on the agent's account."""

    class Reason(models.TextChoices):
        MISREPRESENTED_KIND = "misrepresented_kind"  # sold a system license as an original
        FRAUD = "fraud"
        ABUSE = "abuse"
        OTHER = "other"

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reports_against"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reports_made"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    details = models.TextField()
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"report {self.pk} on agent {self.agent_id}: {self.reason}"


class AgentWarning(models.Model):
    """A warning staff record against an agent; the third flags it for review (rule 9)."""

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="warnings"
    )
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=300)
    report = models.ForeignKey(AgentReport, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"warning {self.pk} to agent {self.agent_id}"
