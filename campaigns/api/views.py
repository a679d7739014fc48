"""Segments and campaigns endpoints of the integration contract (shared/API.md). Thin: validate, call a
service or selector, serialize."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.auth import api_actor
from crm.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from crm.db_routers import reporting_db
from crm.exceptions import NotFound

from .. import selectors
from ..segments import preview_segment, segment_customers
from ..services import create_campaign, create_segment, start_campaign
from .serializers import (
    CampaignCreatedOutput,
    CampaignInput,
    CampaignOutput,
    PreviewOutput,
    RulesInput,
    SegmentInput,
    SegmentOutput,
)


def _segment_body(segment, count: int) -> dict:
    return SegmentOutput(
        {"public_id": segment.public_id, "name": segment.name, "rules": segment.rules, "count": count}
    ).data


def _segment_or_404(public_id: str):
    segment = selectors.segment_by_public_id(public_id)
    if segment is None:
        raise NotFound(_("No segment with this id."))
    return segment


def _campaign_or_404(public_id: str):
    campaign = selectors.campaign_by_public_id(public_id)
    if campaign is None:
        raise NotFound(_("No campaign with this id."))
    return campaign


class SegmentPreviewView(APIView):
    required_scope = "campaigns:read"

    @extend_schema(
        operation_id="segments_preview", summary="Count and sample of a rule tree (nothing saved)",
        request=RulesInput, responses=PreviewOutput,
    )  # fmt: skip
    def post(self, request):
        data = RulesInput(data=request.data)
        data.is_valid(raise_exception=True)
        count, sample = preview_segment(data.validated_data["rules"], using=reporting_db())
        return Response({"count": count, "sample": sample})


class SegmentCreateView(APIView):
    required_scope = "campaigns:write"

    @extend_schema(
        operation_id="segments_create", summary="Save a segment",
        request=SegmentInput, responses={201: SegmentOutput}, parameters=[IDEMPOTENCY_PARAMETER],
    )  # fmt: skip
    @idempotent
    def post(self, request):
        data = SegmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        segment = create_segment(actor=api_actor(request), **data.validated_data)
        return Response(_segment_body(segment, segment_customers(segment.rules).count()), status=201)


class SegmentDetailView(APIView):
    required_scope = "campaigns:read"

    @extend_schema(operation_id="segments_retrieve", summary="A segment with a fresh count", responses=SegmentOutput)
    def get(self, request, segment_id):
        segment = _segment_or_404(segment_id)
        return Response(_segment_body(segment, segment_customers(segment.rules).using(reporting_db()).count()))


class CampaignCreateView(APIView):
    required_scope = "campaigns:write"

    @extend_schema(
        operation_id="campaigns_create", summary="Create a draft campaign",
        request=CampaignInput, responses={201: CampaignCreatedOutput}, parameters=[IDEMPOTENCY_PARAMETER],
    )  # fmt: skip
    @idempotent
    def post(self, request):
        data = CampaignInput(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = create_campaign(actor=api_actor(request), **data.validated_data)
        return Response(CampaignCreatedOutput(campaign).data, status=201)


class CampaignDetailView(APIView):
    required_scope = "campaigns:read"

    @extend_schema(operation_id="campaigns_retrieve", summary="Status, counts and attributed purchases",
                   responses=CampaignOutput)  # fmt: skip
    def get(self, request, campaign_id):
        campaign = _campaign_or_404(campaign_id)
        return Response(campaign_body(campaign))


def campaign_body(campaign) -> dict:
    counts = selectors.campaign_counts(campaign)
    mailed = selectors.campaign_attribution(campaign)["mailed"]
    return CampaignOutput(
        {
            "id": campaign.public_id,
            "status": campaign.status,
            "channel": campaign.channel,
            "counts": counts,
            "by_channel": counts["by_channel"],
            "attributed": mailed,
        }
    ).data


class CampaignSendView(APIView):
    required_scope = "campaigns:write"

    @extend_schema(
        operation_id="campaigns_send", summary="Freeze the audience now and send (once)",
        request=None, responses={202: CampaignCreatedOutput},
    )  # fmt: skip
    def post(self, request, campaign_id):
        campaign = start_campaign(campaign=_campaign_or_404(campaign_id))
        campaign.refresh_from_db(fields=["status"])
        return Response(CampaignCreatedOutput(campaign).data, status=202)
