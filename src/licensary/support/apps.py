from django.apps import AppConfig


class SupportConfig(AppConfig):
    """Support tickets (rule 13): departments, messages with attachments, staff assignment and
    internal notes, the spam throttles and their evidence, and the unresolvable mark that the
    refund policy reads."""

    name = "licensary.support"
    label = "support"
