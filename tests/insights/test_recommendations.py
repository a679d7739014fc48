"""Recommendations: planted co-purchase patterns are recovered, per customer by recency, never what they
bought, nothing inactive or unsellable; popular in the prefecture for newcomers; the two endpoints with
their bad input; the 360 panel; the block in campaign mails."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from crm.models import Product
from insights.recommendations import bought_together, recommend_for_customers, recommended_products
from insights.services import build_recommendations
from tests.crm.factories import CustomerFactory, ProductFactory, StoreFactory, UserFactory, WarehouseFactory

from .factories import in_stock, order

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def shop():
    warehouse, store = WarehouseFactory(), StoreFactory(code="S1")
    skus = ("COAT", "SCARF", "BOOTS", "HAT", "SOCKS", "GLOVES", "MUFFLER", "BAG")
    products = {sku: ProductFactory(sku=sku, name=sku.title()) for sku in skus}
    for product in products.values():
        in_stock(product, warehouse)
    return {"warehouse": warehouse, "store": store, **products}


def plant_patterns(shop):
    """Coat buyers also bought a scarf (12 of them, in another order and channel), boots (6), a hat (3);
    gloves go with a muffler (8). Socks are the best seller (42 buyers, a bag with 25 of them) and
    only 2 coat buyers took socks too: popular, but not what goes with a coat."""
    w, s = shop["warehouse"], shop["store"]
    for i in range(12):
        c = CustomerFactory()
        order(c, at=ago(100 + i), channel="store", store=s, products=[shop["COAT"]])
        order(c, at=ago(50 + i), channel="ec", store=w, products=[shop["SCARF"], *([shop["SOCKS"]] if i < 2 else [])])
    for i in range(6):
        c = CustomerFactory()
        order(c, at=ago(40 + i), channel="app", store=w, products=[shop["COAT"], shop["BOOTS"]])
    for i in range(3):
        c = CustomerFactory()
        order(c, at=ago(30 + i), channel="store", store=s, products=[shop["COAT"], shop["HAT"]])
    for i in range(8):
        c = CustomerFactory()
        order(c, at=ago(20 + i), channel="ec", store=w, products=[shop["GLOVES"], shop["MUFFLER"]])
    for i in range(40):
        c = CustomerFactory(prefecture="東京都")
        order(
            c,
            at=ago(5 + i % 20),
            channel="store",
            store=s,
            products=[shop["SOCKS"], *([shop["BAG"]] if i < 25 else [])],
        )


def skus(suggestions) -> list[str]:
    return [s.product.sku for s in suggestions]


def test_bought_together_recovers_the_planted_pairs_in_order(shop):
    plant_patterns(shop)
    build = build_recommendations()
    assert build.pairs > 0
    assert skus(bought_together(product=shop["COAT"], limit=3)) == ["SCARF", "BOOTS", "HAT"]
    assert skus(bought_together(product=shop["GLOVES"], limit=1)) == ["MUFFLER"]
    assert skus(bought_together(product=shop["SCARF"], limit=1)) == ["COAT"]


def test_a_customer_gets_what_goes_with_their_purchases_weighted_by_recency(shop):
    plant_patterns(shop)
    build_recommendations()
    me = CustomerFactory()
    order(me, at=ago(2), channel="store", store=shop["store"], products=[shop["COAT"]])
    assert skus(recommended_products(customer=me, limit=3)) == ["SCARF", "BOOTS", "HAT"]
    # Gloves bought yesterday outweigh a coat bought two years ago.
    other = CustomerFactory()
    order(other, at=ago(730), channel="store", store=shop["store"], products=[shop["COAT"]])
    order(other, at=ago(1), channel="ec", store=shop["warehouse"], products=[shop["GLOVES"]])
    assert skus(recommended_products(customer=other, limit=1)) == ["MUFFLER"]


def test_never_what_they_bought_nor_inactive_nor_unsellable_products(shop):
    plant_patterns(shop)
    build_recommendations()
    me = CustomerFactory()
    order(me, at=ago(2), channel="ec", store=shop["warehouse"], products=[shop["COAT"], shop["SCARF"]])
    Product.objects.filter(sku="BOOTS").update(active=False)
    level = in_stock(shop["HAT"], shop["warehouse"], 2)
    level.reserved = 2  # every unit held for someone: none to sell
    level.save()
    found = skus(recommended_products(customer=me, limit=10))
    assert "COAT" not in found and "SCARF" not in found
    assert "BOOTS" not in found and "HAT" not in found
    # At a store that has the hat, it can be sold there.
    in_stock(shop["HAT"], shop["store"], 1)
    assert "HAT" in skus(recommended_products(customer=me, limit=10, store=shop["store"]))
    assert "MUFFLER" not in skus(recommended_products(customer=me, limit=10, store=shop["store"]))  # not there


def test_a_customer_without_purchases_gets_the_best_sellers_of_their_prefecture(shop):
    plant_patterns(shop)
    osaka = [CustomerFactory(prefecture="大阪府") for _ in range(3)]
    for c in osaka:
        order(c, at=ago(3), channel="ec", store=shop["warehouse"], products=[shop["HAT"]])
    build_recommendations()
    newcomer = CustomerFactory(prefecture="大阪府")
    found = recommended_products(customer=newcomer, limit=2)
    assert skus(found)[0] == "HAT"
    assert {s.reason for s in found} == {"popular_nearby"}
    tokyo = recommended_products(customer=CustomerFactory(prefecture="東京都"), limit=2)
    assert skus(tokyo) == ["SOCKS", "BAG"]


def test_one_batch_of_customers_costs_a_fixed_number_of_queries(shop, django_assert_num_queries):
    plant_patterns(shop)
    build_recommendations()
    customers = list(CustomerFactory.create_batch(30))
    for c in customers:
        order(c, at=ago(3), channel="store", store=shop["store"], products=[shop["COAT"]])
    with django_assert_num_queries(5):
        found = recommend_for_customers(customers, limit=3)
    assert all(skus(found[c.pk]) == ["SCARF", "BOOTS", "HAT"] for c in customers)


def test_a_rebuild_replaces_the_scores(shop):
    plant_patterns(shop)
    build_recommendations()
    Product.objects.filter(sku="SCARF").update(active=False)
    for i in range(30):
        c = CustomerFactory()
        order(c, at=ago(1 + i), channel="store", store=shop["store"], products=[shop["COAT"], shop["BAG"]])
    build_recommendations()
    assert skus(bought_together(product=shop["COAT"], limit=1)) == ["BAG"]


# --- API -------------------------------------------------------------------------------------------
def test_recommendations_endpoint(api, shop):
    plant_patterns(shop)
    build_recommendations()
    me = CustomerFactory()
    order(me, at=ago(2), channel="store", store=shop["store"], products=[shop["COAT"]])
    client = api("customers:read")
    response = client.get(f"/api/v1/customers/{me.public_id}/recommendations/", {"limit": 2})
    assert response.status_code == 200
    body = response.json()
    assert [p["sku"] for p in body["results"]] == ["SCARF", "BOOTS"]
    assert body["results"][0]["reason"] == "bought_together" and body["next"] is None
    in_stock(shop["HAT"], shop["store"], 1)
    at_store = client.get(f"/api/v1/customers/{me.public_id}/recommendations/", {"available_at": "S1"}).json()
    assert [p["sku"] for p in at_store["results"]] == ["HAT"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"available_at": "NOPE"}, "available_at"),
    ],
)
def test_recommendations_bad_input_is_400_naming_the_parameter(api, params, field):
    me = CustomerFactory()
    response = api("customers:read").get(f"/api/v1/customers/{me.public_id}/recommendations/", params)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["errors"]


def test_recommendation_endpoints_answer_404_and_403(api, shop):
    assert api("customers:read").get("/api/v1/customers/cus_NOPE/recommendations/").status_code == 404
    assert api("catalog:read").get("/api/v1/products/NOPE/bought-together/").status_code == 404
    me = CustomerFactory()
    assert api("catalog:read").get(f"/api/v1/customers/{me.public_id}/recommendations/").status_code == 403
    assert api("customers:read").get("/api/v1/products/COAT/bought-together/").status_code == 403


def test_bought_together_endpoint(api, shop):
    plant_patterns(shop)
    build_recommendations()
    client = api("catalog:read")
    response = client.get("/api/v1/products/COAT/bought-together/", {"limit": 2})
    assert response.status_code == 200
    assert [p["sku"] for p in response.json()["results"]] == ["SCARF", "BOOTS"]
    assert client.get("/api/v1/products/COAT/bought-together/", {"limit": 999}).status_code == 400
    # Nothing built yet for a new product: an empty list.
    ProductFactory(sku="NEW")
    assert client.get("/api/v1/products/NEW/bought-together/").json() == {"results": [], "next": None}


def test_crm_no_longer_serves_recommendations():
    import crm.api.views
    import crm.selectors

    assert not hasattr(crm.selectors, "recommended_products")
    assert not hasattr(crm.api.views, "CustomerRecommendationsView")


# --- The 360 panel and campaign mails --------------------------------------------------------------
def test_the_customer_page_suggests_what_is_in_stock_at_the_staff_members_store(client, shop):
    plant_patterns(shop)
    build_recommendations()
    me = CustomerFactory()
    order(me, at=ago(2), channel="store", store=shop["store"], products=[shop["COAT"]])
    in_stock(shop["BOOTS"], shop["store"], 1)
    staff = UserFactory(role="store_staff", store=shop["store"])
    client.force_login(staff)
    page = client.get(f"/customers/{me.public_id}/").content.decode()
    panel = page[page.index('id="panel-suggestions"') :]
    panel = panel[: panel.index("</article>")]
    assert "BOOTS" in panel and "SCARF" not in panel  # the scarf is only in the EC warehouse
    agent = UserFactory(role="agent")
    client.force_login(agent)
    page = client.get(f"/customers/{me.public_id}/").content.decode()
    assert 'id="panel-suggestions"' in page and "SCARF" in page


def test_campaign_mails_carry_each_recipients_own_suggestions_in_stock(shop):
    from campaigns.models import CampaignRecipient
    from campaigns.services import send_recipient_batch, start_campaign
    from crm.models import Customer
    from tests.campaigns.factories import CampaignFactory, SegmentFactory

    plant_patterns(shop)
    build_recommendations()
    coat_buyer = CustomerFactory(email="coat@example.jp", family_name="上田")
    glove_buyer = CustomerFactory(email="gloves@example.jp", family_name="下村")
    order(coat_buyer, at=ago(2), channel="store", store=shop["store"], products=[shop["COAT"]])
    order(glove_buyer, at=ago(2), channel="store", store=shop["store"], products=[shop["GLOVES"]])
    Product.objects.filter(sku="BOOTS").update(active=False)
    segment = SegmentFactory()  # everyone opted in: only these two are
    Customer.objects.exclude(pk__in=[coat_buyer.pk, glove_buyer.pk]).update(email_opt_in=False)
    campaign = CampaignFactory(
        segment=segment,
        body_text="{{ customer.family_name }}様\n{% for p in recommended_products %}{{ p.sku }} ¥{{ p.price }}\n"
        "{% endfor %}停止: {{ unsubscribe_url }}",
        body_html="",
    )
    start_campaign(campaign=campaign, dispatch=False)
    ids = list(CampaignRecipient.objects.filter(campaign=campaign).values_list("pk", flat=True))
    assert send_recipient_batch(campaign_id=campaign.pk, recipient_ids=ids) == 2
    bodies = {m.to[0]: m.body for m in mail.outbox}
    coat_mail = bodies["coat@example.jp"].splitlines()
    assert coat_mail[1:3] == ["SCARF ¥12000", "HAT ¥12000"]  # the boots are no longer sold
    assert not any(line.startswith(("BOOTS", "COAT")) for line in coat_mail)
    gloves_mail = bodies["gloves@example.jp"].splitlines()
    assert gloves_mail[1] == "MUFFLER ¥12000"
    assert len([line for line in gloves_mail if "¥" in line]) == 4  # topped up with best sellers


def test_a_template_naming_the_block_passes_the_checks_and_previews_with_samples():
    from campaigns.rendering import check_template
    from campaigns.services.sending import recipient_extras
    from tests.campaigns.factories import CampaignFactory

    assert check_template("{% for p in recommended_products %}{{ p.name }}{% endfor %}", html=False) == []
    assert check_template("{{ recommended_product }}", html=False)  # a typo is refused
    campaign = CampaignFactory(body_text="{% for p in recommended_products %}{{ p.sku }}{% endfor %}")
    assert recipient_extras(campaign, None)["recommended_products"][0]["sku"]
