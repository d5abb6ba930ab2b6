"""Permission sets are cached between requests, and a change of roles shows at once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User

from cpm.roles import Role
from tests.conftest import user_with_role

pytestmark = pytest.mark.django_db


def fresh(user: User) -> User:
    """The user as the next request loads them (no per-object cache)."""
    return User.objects.get(pk=user.pk)


def test_the_second_request_asks_the_database_nothing(django_assert_num_queries) -> None:
    user = user_with_role("kim", Role.AGENT)
    assert fresh(user).has_perm("cases.view_case")
    again = fresh(user)
    with django_assert_num_queries(0):
        assert again.has_perm("cases.view_case")
        assert not again.has_perm("cases.decide_guidedrun")


def test_a_role_taken_away_is_gone_with_the_next_request() -> None:
    user = user_with_role("kim", Role.SUPERVISOR)
    assert fresh(user).has_perm("cases.decide_guidedrun")
    user.groups.clear()
    assert not fresh(user).has_perm("cases.decide_guidedrun")
    user.groups.add(Group.objects.get(name=Role.AGENT.value))
    assert fresh(user).has_perm("cases.view_case")


def test_a_permission_given_to_a_group_counts_for_its_members_at_once() -> None:
    user = user_with_role("kim", Role.AGENT)
    assert not fresh(user).has_perm("cases.decide_guidedrun")
    group = Group.objects.get(name=Role.AGENT.value)
    group.permissions.add(Permission.objects.get(codename="decide_guidedrun"))
    assert fresh(user).has_perm("cases.decide_guidedrun")


def test_a_deleted_group_takes_its_permissions_along() -> None:
    user = user_with_role("kim", Role.AGENT)
    assert fresh(user).has_perm("cases.view_case")
    Group.objects.get(name=Role.AGENT.value).delete()
    assert not fresh(user).has_perm("cases.view_case")


def test_superuser_and_inactive_users_are_never_served_a_stale_set() -> None:
    user = user_with_role("kim", None)
    assert not fresh(user).has_perm("cases.view_case")
    User.objects.filter(pk=user.pk).update(is_superuser=True)  # no signal on purpose
    assert fresh(user).has_perm("cases.view_case")
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert not fresh(user).has_perm("cases.view_case")


def test_a_new_user_with_a_reused_id_does_not_inherit_permissions() -> None:
    user = user_with_role("kim", Role.ADMIN)
    pk = user.pk
    assert fresh(user).has_perm("guidance.change_processdefinition")
    user.delete()
    User.objects.create_user(id=pk, username="stranger", password="pw")
    assert not User.objects.get(pk=pk).has_perm("guidance.change_processdefinition")


def test_the_roles_in_the_top_bar_follow_a_change_at_once(django_assert_num_queries) -> None:
    from cpm.roles import user_roles

    user = user_with_role("kim", Role.AGENT)
    assert user_roles(fresh(user)) == {Role.AGENT}
    with django_assert_num_queries(1):  # the user; the roles come from the cache
        assert user_roles(fresh(user)) == {Role.AGENT}
    user.groups.add(Group.objects.get(name=Role.SUPERVISOR.value))
    assert user_roles(fresh(user)) == {Role.AGENT, Role.SUPERVISOR}
