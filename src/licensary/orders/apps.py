from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "licensary.orders"
    label = "orders"
