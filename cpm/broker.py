"""django-q2's ORM broker, enqueueing with one plain `INSERT` (`cpm.rows`).

Intake writes a task row for every group of acknowledgements, in the transaction that made
the cases (`cases.outbox.delivery_enqueue`); the ORM broker's `OrmQ.objects.create` cost
more CPU than the rest of that task's enqueueing. Everything else (dequeue, locks,
acknowledgement) is django-q2's.
"""

from __future__ import annotations

from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ

from cpm.rows import pipelined, rows_insert

BROKER_CLASS = "cpm.broker.OrmBroker"


class OrmBroker(ORM):
    def enqueue(self, task: str) -> int:
        # As ORM.enqueue: list_key may be empty (a test setup); OrmQ.key may not.
        package = OrmQ(key=self.list_key or Conf.CLUSTER_NAME, payload=task, lock=timezone.now())
        # Inside a pipeline (intake) its key is not read back: the task goes out with the
        # other writes, and django-q2 only logs the key.
        rows_insert(OrmQ, [package], read_keys=not pipelined())
        return package.pk
