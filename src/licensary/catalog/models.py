"""The products on sale."""

from django.db import models
from django.db.models import Q

from licensary.core.money import Money, default_currency


class Product(models.Model):
    """A licensable product: `own` (our license system) or `manufacturer` (bought upstream)."""

    class Kind(models.TextChoices):
        OWN = "own"
        MANUFACTURER = "manufacturer"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    manufacturer = models.CharField(max_length=100, blank=True)
    period_days = models.PositiveIntegerField(default=30)
    price = models.BigIntegerField(help_text="minor units per period")
    setup_fee = models.BigIntegerField(default=0, help_text="minor units, paid on new orders")
    # The platform's currency (LICENSARY_CURRENCY) unless the product names its own.
    currency = models.CharField(max_length=3, default=default_currency)
    requires_identity = models.BooleanField(default=False)
    suppliers = models.JSONField(
        default=list, blank=True, help_text="supplier names in failover order"
    )
    upstream_package = models.CharField(max_length=100, blank=True)
    # The manufacturer's refund rule (rule 7): "none", "within_days" (refund_days) or "manual".
    refund_rule = models.CharField(
        max_length=16,
        default="none",
        choices=[("none", "none"), ("within_days", "within days"), ("manual", "manual")],
    )
    refund_days = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0) & Q(setup_fee__gte=0),
                name="%(app_label)s_%(class)s_prices_not_negative",
                violation_error_message="Prices cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(period_days__gt=0),
                name="%(app_label)s_%(class)s_period_positive",
                violation_error_message="The period must be at least one day.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def price_money(self) -> Money:
        return Money(self.price, self.currency)

    @property
    def setup_fee_money(self) -> Money:
        return Money(self.setup_fee, self.currency)


# Rule 9: the words a customer reads for each kind, on every license, invoice line and mail,
# so an agent can never present a system license as an original one.
KIND_WORDS = {Product.Kind.OWN: "system license", Product.Kind.MANUFACTURER: "original license"}


def kind_words(kind: str) -> str:
    return KIND_WORDS[Product.Kind(kind)]


class AgentTier(models.Model):
    """A named group of agents that share one wholesale price list (rule 9's resellers)."""

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentTierMember(models.Model):
    """Which tier an agent buys at: at most one."""

    agent = models.OneToOneField(
        "accounts.User", on_delete=models.PROTECT, related_name="agent_tier_member"
    )
    tier = models.ForeignKey(AgentTier, on_delete=models.PROTECT, related_name="members")
    assigned_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.agent_id} in {self.tier_id}"


class WholesalePrice(models.Model):
    """What an agent pays for a product, per period and as setup fee, in the product's
    currency: set for one agent, or for a tier; an agent's own row wins over its tier's, and
    with neither the agent pays the list price."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="wholesale")
    agent = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wholesale_prices",
    )
    tier = models.ForeignKey(
        AgentTier, null=True, blank=True, on_delete=models.PROTECT, related_name="prices"
    )
    price = models.BigIntegerField(help_text="minor units per period")
    setup_fee = models.BigIntegerField(default=0, help_text="minor units, paid on new orders")
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["product_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0) & Q(setup_fee__gte=0),
                name="%(app_label)s_%(class)s_prices_not_negative",
                violation_error_message="Prices cannot be negative.",
            ),
            models.CheckConstraint(
                condition=(Q(agent__isnull=False) & Q(tier__isnull=True))
                | (Q(agent__isnull=True) & Q(tier__isnull=False)),
                name="%(app_label)s_%(class)s_for_an_agent_or_a_tier",
                violation_error_message="A wholesale price is for one agent or one tier.",
            ),
            models.UniqueConstraint(
                fields=["product", "agent"],
                condition=Q(agent__isnull=False),
                name="%(app_label)s_%(class)s_one_per_product_agent",
                violation_error_message="The agent has a price for this product already.",
            ),
            models.UniqueConstraint(
                fields=["product", "tier"],
                condition=Q(tier__isnull=False),
                name="%(app_label)s_%(class)s_one_per_product_tier",
                violation_error_message="The tier has a price for this product already.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.price}"
