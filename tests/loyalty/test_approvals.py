"""Points are money: an adjustment above LOYALTY_APPROVAL_POINTS, or beyond the daily award cap of
the person or key, waits for a second person, an admin, to approve it (audit finding 4)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import IntegrityError
from django.urls import reverse

from crm.models import ApiKey
from loyalty.models import PointAccount, PointAdjustment, PointTransaction
from loyalty.services import approve_point_adjustment, reject_point_adjustment, submit_point_adjustment
from tests.crm.factories import CustomerFactory, StoreFactory, UserFactory
from tests.mfa import login_as

pytestmark = pytest.mark.django_db


def balance(customer) -> int:
    return PointAccount.objects.filter(customer=customer).values_list("balance", flat=True).first() or 0


def adjust_url(customer):
    return f"/api/v1/loyalty/{customer.public_id}/adjust/"


@pytest.fixture
def customer():
    return CustomerFactory()


def test_api_adjustment_above_the_limit_waits_for_approval_and_writes_no_points(api, customer):
    client = api("loyalty:write")
    response = client.post(adjust_url(customer), {"points": 10_001, "reason": "お詫び"}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending_approval" and body["id"].startswith("adj_") and body["points"] == 10_001
    assert balance(customer) == 0 and not PointTransaction.objects.exists()
    adjustment = PointAdjustment.objects.get()
    assert adjustment.requested_by_key == ApiKey.objects.get() and adjustment.requested_by is None


def test_api_adjustment_at_the_limit_is_applied_and_records_the_key(api, customer):
    client = api("loyalty:write")
    response = client.post(adjust_url(customer), {"points": 10_000, "reason": "お詫び"}, format="json")
    assert response.status_code == 201 and response.json()["balance"] == 10_000
    txn = PointTransaction.objects.get()
    assert txn.api_key == ApiKey.objects.get() and txn.actor is None


def test_the_same_reference_again_answers_the_pending_request_once(api, customer):
    client = api("loyalty:write")
    body = {"points": 50_000, "reason": "キャンペーン", "reference": "CMP-1"}
    first = client.post(adjust_url(customer), body, format="json").json()
    again = client.post(adjust_url(customer), body, format="json")
    assert again.status_code == 202 and again.json()["id"] == first["id"]
    conflict = client.post(adjust_url(customer), {**body, "points": 60_000}, format="json")
    assert conflict.status_code == 409 and conflict.json()["code"] == "reference_conflict"
    assert PointAdjustment.objects.count() == 1


def test_many_small_awards_by_one_key_reach_the_daily_cap_then_wait(api, customer, settings):
    settings.LOYALTY_DAILY_AWARD_POINTS = 25_000
    client = api("loyalty:write")
    for _ in range(2):
        assert client.post(adjust_url(customer), {"points": 10_000, "reason": "x"}, format="json").status_code == 201
    response = client.post(adjust_url(customer), {"points": 10_000, "reason": "x"}, format="json")
    assert response.status_code == 202 and balance(customer) == 20_000
    # Taking points back is not an award, and another key has its own cap.
    assert client.post(adjust_url(customer), {"points": -5_000, "reason": "x"}, format="json").status_code == 201
    assert (
        api("loyalty:write").post(adjust_url(customer), {"points": 10_000, "reason": "x"}, format="json").status_code
        == 201
    )


def test_an_admin_other_than_the_requester_approves_and_the_points_are_applied_once(customer):
    clerk, admin = UserFactory(role="store_staff"), UserFactory(role="admin")
    adjustment, _created = submit_point_adjustment(customer=customer, points=30_000, reason="VIP", actor=clerk)
    txn = approve_point_adjustment(adjustment=adjustment, approver=admin)
    assert balance(customer) == 30_000
    assert txn.actor == clerk and txn.approved_by == admin and txn.points == 30_000
    adjustment.refresh_from_db()
    assert adjustment.status == "approved" and adjustment.transaction == txn and adjustment.decided_by == admin
    with pytest.raises(Exception) as error:
        approve_point_adjustment(adjustment=adjustment, approver=UserFactory(role="admin"))
    assert getattr(error.value, "code", "") == "invalid_state"
    assert balance(customer) == 30_000


def test_nobody_approves_their_own_adjustment_and_only_admins_approve(customer):
    admin, clerk = UserFactory(role="admin"), UserFactory(role="store_staff")
    own, _ = submit_point_adjustment(customer=customer, points=20_000, reason="x", actor=admin)
    with pytest.raises(Exception) as error:
        approve_point_adjustment(adjustment=own, approver=admin)
    assert getattr(error.value, "code", "") == "approval_refused"
    other, _ = submit_point_adjustment(customer=customer, points=20_000, reason="y", actor=UserFactory())
    with pytest.raises(Exception) as error:
        approve_point_adjustment(adjustment=other, approver=clerk)
    assert getattr(error.value, "code", "") == "approval_refused"
    assert balance(customer) == 0


def test_the_database_refuses_a_self_approval(customer):
    admin = UserFactory(role="admin")
    adjustment, _ = submit_point_adjustment(customer=customer, points=20_000, reason="x", actor=admin)
    with pytest.raises(IntegrityError):
        PointAdjustment.objects.filter(pk=adjustment.pk).update(status="rejected", decided_by=admin)


def test_rejected_adjustments_write_nothing(customer):
    adjustment, _ = submit_point_adjustment(customer=customer, points=20_000, reason="x", actor=UserFactory())
    reject_point_adjustment(adjustment=adjustment, approver=UserFactory(role="admin"))
    adjustment.refresh_from_db()
    assert adjustment.status == "rejected" and balance(customer) == 0


def test_the_counter_form_has_the_same_limit(client, customer):
    clerk = UserFactory(role="store_staff", store=StoreFactory(code="SHIBUYA"))
    login_as(client, clerk)
    url = reverse("loyalty:counter", args=[customer.public_id])
    response = client.post(url, {"action": "award", "points": 10_001, "reason": "VIP", "reference": "tok-1"})
    assert response.status_code == 302 and balance(customer) == 0
    adjustment = PointAdjustment.objects.get()
    assert adjustment.requested_by == clerk and adjustment.status == "pending"
    page = client.get(reverse("crm:customer_detail", args=[customer.public_id]), HTTP_ACCEPT_LANGUAGE="en")
    assert "waiting for approval" in page.content.decode()
    client.post(url, {"action": "award", "points": 500, "reason": "x", "reference": "tok-2"})
    assert balance(customer) == 500 and PointTransaction.objects.get().actor == clerk


def test_the_approvals_page_lists_pending_and_approves(client, customer):
    clerk, admin = UserFactory(role="store_staff"), UserFactory(role="admin")
    adjustment, _ = submit_point_adjustment(customer=customer, points=20_000, reason="VIP 顧客", actor=clerk)
    login_as(client, clerk)
    assert client.get(reverse("loyalty:approvals")).status_code == 403
    login_as(client, admin)
    page = client.get(reverse("loyalty:approvals"))
    assert page.status_code == 200 and adjustment.public_id in page.content.decode()
    response = client.post(reverse("loyalty:approvals"), {"adjustment": adjustment.public_id, "decision": "approve"})
    assert response.status_code == 302 and balance(customer) == 20_000
    bad = client.post(reverse("loyalty:approvals"), {"adjustment": "adj_nope", "decision": "approve"})
    assert bad.status_code == 404
    bad = client.post(reverse("loyalty:approvals"), {"adjustment": adjustment.public_id, "decision": "maybe"})
    assert bad.status_code == 400


def test_the_admin_action_approves_but_not_for_the_requester(admin_client, admin_user, customer):
    mine, _ = submit_point_adjustment(customer=customer, points=20_000, reason="x", actor=admin_user)
    theirs, _ = submit_point_adjustment(customer=customer, points=15_000, reason="y", actor=UserFactory())
    url = reverse("admin:loyalty_pointadjustment_changelist")
    admin_client.post(url, {"action": "approve", ACTION_CHECKBOX_NAME: [mine.pk, theirs.pk]})
    mine.refresh_from_db(), theirs.refresh_from_db()
    assert mine.status == "pending" and theirs.status == "approved" and balance(customer) == 15_000
