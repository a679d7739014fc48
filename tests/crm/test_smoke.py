import pytest

pytestmark = pytest.mark.django_db


def test_stores_endpoint_needs_a_key(client):
    response = client.get("/api/v1/stores/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_authenticated"
