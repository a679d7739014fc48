import logging
import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from ..models import Product

logger = logging.getLogger(__name__)
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
PRODUCT_FIELDS = ("name", "category", "brand", "price", "active")


def upsert_product(*, sku: str, **fields) -> tuple[Product, bool]:
    """Create or update one product from the EC/PIM, keyed by SKU. Returns (product, created)."""
    if not SKU_RE.match(sku or ""):
        raise ValidationError({"sku": [_("Use up to 64 letters, digits, dots, hyphens or underscores.")]})
    unknown = set(fields) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in sorted(unknown)})
    with transaction.atomic():
        product = Product.objects.select_for_update().filter(sku=sku).first()
        created = product is None
        product = product or Product(sku=sku)
        for name, value in fields.items():
            setattr(product, name, value.strip() if isinstance(value, str) else value)
        product.full_clean(validate_unique=False)
        try:
            with transaction.atomic():
                product.save()
        except IntegrityError:  # created concurrently by another request: update that one
            product = Product.objects.select_for_update().get(sku=sku)
            for name, value in fields.items():
                setattr(product, name, value)
            product.save()
            created = False
    logger.info("product %s sku=%s", "created" if created else "updated", sku)
    return product, created
