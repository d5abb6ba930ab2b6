"""`cpm.broker.OrmBroker`: tasks enqueued with a plain INSERT are what django-q2's ORM
broker hands its cluster."""

from __future__ import annotations

import pytest
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from cpm.broker import OrmBroker

pytestmark = pytest.mark.django_db


def test_the_configured_broker_is_ours() -> None:
    assert Conf.BROKER_CLASS == "cpm.broker.OrmBroker"
    assert isinstance(get_broker(), OrmBroker)


def test_an_enqueued_task_is_dequeued_as_django_q2_signed_it() -> None:
    task_id = async_task("cases.tasks.deliver_outbound_many", [3, 4])

    [package] = OrmQ.objects.all()
    assert package.key == Conf.CLUSTER_NAME
    [(pk, payload)] = get_broker().dequeue()
    task = SignedPackage.loads(payload)
    assert pk == package.pk
    assert (task["id"], task["func"], task["args"]) == (
        task_id,
        "cases.tasks.deliver_outbound_many",
        ([3, 4],),
    )
