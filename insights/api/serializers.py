from rest_framework import serializers

from crm.api.serializers import ProductOutput

from ..kpis import FIGURES


class SuggestionOutput(ProductOutput):
    """A product, with why it is suggested and how strongly."""

    reason = serializers.SerializerMethodField()
    score = serializers.SerializerMethodField()

    class Meta(ProductOutput.Meta):
        fields = [*ProductOutput.Meta.fields, "reason", "score"]

    def to_representation(self, suggestion):
        data = super().to_representation(suggestion.product)
        data["reason"], data["score"] = suggestion.reason, suggestion.score
        return data

    def get_reason(self, suggestion) -> str:  # for the schema: to_representation fills it
        return suggestion.reason

    def get_score(self, suggestion) -> float:
        return suggestion.score


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
