from rest_framework import serializers

from ..kpis import FIGURES


class SuggestionOutput(serializers.Serializer):
    """A product (as in the catalogue), with why it is suggested and how strongly."""

    sku = serializers.CharField(source="product.sku")
    name = serializers.CharField(source="product.name")
    category = serializers.CharField(source="product.category")
    brand = serializers.CharField(source="product.brand")
    price = serializers.IntegerField(source="product.price")
    active = serializers.BooleanField(source="product.active")
    updated_at = serializers.DateTimeField(source="product.updated_at")
    reason = serializers.ChoiceField(choices=["bought_together", "popular_nearby"])
    score = serializers.FloatField()


class FigureOutput(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    previous = serializers.FloatField(allow_null=True)


class PeriodOutput(serializers.Serializer):
    # "from" is a keyword: declared below
    to = serializers.DateField()


PeriodOutput._declared_fields = {"from": serializers.DateField(), **PeriodOutput._declared_fields}


class KpiReportOutput(serializers.Serializer):
    """For the schema: the view returns Report.as_dict()."""

    period = PeriodOutput()
    previous_period = PeriodOutput()
    filters = serializers.DictField(child=serializers.CharField(allow_null=True))
    freshness = serializers.DictField(child=serializers.CharField(allow_null=True))


KpiReportOutput._declared_fields.update({name: FigureOutput() for name in FIGURES})
