from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "licensary.orders"
    label = "orders"

    def ready(self) -> None:
        # Imported here, not at the top: services need the app registry, which is ready only now.
        from licensary.billing.lines import register_line_handler
        from licensary.orders.invoicing import OrderLines

        register_line_handler(("license", "setup_fee"), OrderLines())
