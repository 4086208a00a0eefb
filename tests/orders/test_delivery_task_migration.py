"""Migration orders.0002: delivery jobs queued before the job moved from orders.services to
orders.delivery run from its new import path."""

import importlib

import pytest
from django.apps import apps as django_apps
from django_tasks_db.models import DBTaskResult

from licensary.orders.delivery import deliver_order

pytestmark = pytest.mark.django_db
MIGRATION = importlib.import_module(
    "licensary.orders.migrations.0002_delivery_task_moved_to_delivery"
)
OLD = "licensary.orders.services.deliver_order"


def test_delivery_jobs_queued_before_the_move_run_from_delivery_and_move_back_on_reverse():
    job = deliver_order.enqueue(order_id=1).id
    DBTaskResult.objects.filter(pk=job).update(task_path=OLD)

    MIGRATION.forwards(django_apps, None)

    assert DBTaskResult.objects.get(pk=job).task_path == deliver_order.module_path
    assert deliver_order.module_path == "licensary.orders.delivery.deliver_order"

    MIGRATION.backwards(django_apps, None)

    assert DBTaskResult.objects.get(pk=job).task_path == OLD
