import datetime as dt

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from crm.models import ChannelIdentity, Customer, Product, Store, User
from crm.services.customers import refresh_search_keys


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Sequence(lambda n: f"渋谷店{n}")
    kind = Store.Kind.STORE
    prefecture = "東京都"
    address = "東京都渋谷区神南1-1-1"
    phone = "03-1234-5678"


class WarehouseFactory(StoreFactory):
    code = "EC-WH"
    name = "EC倉庫"
    kind = Store.Kind.WAREHOUSE
    prefecture = "千葉県"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"ウールコート {n}")
    category = "outerwear"
    brand = "Tsunagu Basics"
    price = 12000


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        skip_postgeneration_save = True

    family_name = "田中"
    given_name = "花子"
    family_name_kana = "タナカ"
    given_name_kana = "ハナコ"
    email = factory.Sequence(lambda n: f"hanako{n}@example.jp")
    phone = factory.Sequence(lambda n: f"+81901{n % 10000000:07d}")
    birth_date = dt.date(1990, 4, 1)
    prefecture = "東京都"
    email_opt_in = True
    email_opt_in_at = factory.LazyFunction(timezone.now)
    email_opt_in_source = "store"

    @factory.post_generation
    def search_keys(obj, create, extracted, **kwargs):
        refresh_search_keys(obj)
        if create:
            obj.save(update_fields=["search_name", "search_kana"])


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelIdentity

    customer = factory.SubFactory(CustomerFactory)
    channel = "ec"
    external_id = factory.Sequence(lambda n: f"ec-user-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"staff{n}@tsunagu.example")
    display_name = factory.Sequence(lambda n: f"Staff {n}")
    language = "en"
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        if extracted:
            obj.groups.add(Group.objects.get(name=extracted))
            if extracted == "admin":
                obj.is_staff = True
        if create:
            obj.save()


def stock(product, store, quantity=100):
    """Put units on the shelf through inventory's service, so that EC/app orders can be filled."""
    from inventory.services.stock import receive_stock

    return receive_stock(store=store, product=product, quantity=quantity, reference="test opening stock")
