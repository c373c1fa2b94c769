"""The cases endpoints: list, read, open, move along the workflow, read and write notes, and ask for reports.

Cases are read through ``restrict()`` (``apps.cases.selectors``): a case the caller may not see (another
organisation's, or one whose team the caller is not on) is a 404, and never listed. Moving a case or writing a note
needs the change permission on it (the team's, or a supervisor's), else a 403. Writes go through
``apps.cases.services``, which audit them and notify the people concerned; a refused one is a 400 with the reason.
"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from apps.accounts.models import User
from apps.accounts.tiers import TierRefused
from apps.anomalies.models import Anomaly
from apps.cases import selectors, services
from apps.cases.api.serializers import (
    CaseCreateSerializer,
    CaseDetailSerializer,
    CaseExportRequestSerializer,
    CaseExportSerializer,
    CaseNoteSerializer,
    CaseSerializer,
    CaseStatusSerializer,
)
from apps.cases.filtersets import ANY_STATUS, OPEN, ORDERINGS, CaseFilterSet
from apps.cases.models import Case, CasePriority, CaseStatus
from apps.core.api.permissions import DENIED_MESSAGES, OrganizationMemberPermission
from apps.core.api.viewsets import RestrictedGenericViewSet
from apps.entities.models import Entity


class CasePermission(OrganizationMemberPermission):
    """Members read what ``restrict()`` lets through; opening a case needs ``cases.add_case``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if getattr(view, "action", None) == "create" and not request.user.has_perm("cases.add_case"):
            self.message = DENIED_MESSAGES["add"] % {"objects": Case._meta.verbose_name_plural}
            return False
        return True


CASE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The case's id.")


@extend_schema_view(
    list=extend_schema(
        summary="List cases",
        description="The cases the caller may see: those whose team they are on, or, for supervisors and "
        "administrators, every case of the organisation. Open cases, due first, unless the filters say otherwise.",
        parameters=[
            OpenApiParameter("q", str, description="Words of the title or description, or a case number."),
            OpenApiParameter(
                "status",
                enum=[OPEN, *CaseStatus.values, ANY_STATUS],
                description=f"{OPEN} (default: every status but closed), one status, or {ANY_STATUS}.",
            ),
            OpenApiParameter("priority", enum=CasePriority.values),
            OpenApiParameter("lead", str, description="`me`, or a user id: cases this user leads."),
            OpenApiParameter("tag", str, description="Cases with this tag."),
            OpenApiParameter("overdue", bool, description="Only open cases past their due date."),
            OpenApiParameter("ordering", enum=list(ORDERINGS), description="due (default), -created or priority."),
        ],
    ),
    retrieve=extend_schema(summary="Read a case", parameters=[CASE_ID]),
    create=extend_schema(
        summary="Open a case",
        description="Opens a case, linked at once to anomalies, entities and records of the organisation; linked "
        "anomalies are set to `in_case`. The caller leads it unless `lead_id` names somebody else, which needs "
        "the assign permission. 400 when a linked item is not the organisation's.",
        request=CaseCreateSerializer,
        responses={201: CaseDetailSerializer},
    ),
)
class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, RestrictedGenericViewSet):
    """Investigations: their status, team, due date and what they are linked to."""

    queryset = Case.objects.all()
    permission_classes = [CasePermission]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = selectors.case_list(user=self.request.user)
        if self.action == "list":
            filterset = CaseFilterSet(self.request.query_params, user=self.request.user)
            if not filterset.is_valid():
                raise ValidationError(
                    {name: [str(error) for error in errors] for name, errors in filterset.errors.items()}
                )
            return filterset.filter(queryset)
        return queryset

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return CaseSerializer if self.action == "list" else CaseDetailSerializer

    def _user(self) -> User:
        return cast(User, self.request.user)

    def _detail(self, case: Case, *, status_code: int = status.HTTP_200_OK) -> Response:
        case = selectors.case_get(user=self.request.user, pk=case.pk)
        context = {
            **self.get_serializer_context(),
            "anomalies": selectors.case_anomalies(user=self.request.user, case=case),
            "entities": selectors.case_entities(user=self.request.user, case=case),
        }
        return Response(CaseDetailSerializer(case, context=context).data, status=status_code)

    def _to_change(self) -> Case:
        case = cast(Case, self.get_object())
        if not services.case_visible_to(user=self._user(), case=case, action="change"):
            raise PermissionDenied(DENIED_MESSAGES["change"] % {"objects": Case._meta.verbose_name_plural})
        return case

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._detail(cast(Case, self.get_object()))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = CaseCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = self._user()
        organization_id = user.organization_id
        members = {
            member.pk: member
            for member in selectors.case_assignable_users(organization_id=organization_id or 0).filter(
                pk__in=[*data["team_ids"], *([data["lead_id"]] if data["lead_id"] else [])]
            )
        }
        missing = {*data["team_ids"], *([data["lead_id"]] if data["lead_id"] else [])} - set(members)
        if missing:
            raise ValidationError(
                {
                    "team_ids": [
                        _("Your organisation has no such investigator: %(ids)s.")
                        % {"ids": ", ".join(str(pk) for pk in sorted(missing))}
                    ]
                }
            )
        anomalies = list(Anomaly.objects.restrict(user, "view").filter(pk__in=data["anomaly_ids"]))
        entities = list(Entity.objects.restrict(user, "view").filter(pk__in=data["entity_ids"]))
        if len(anomalies) != len(set(data["anomaly_ids"])):
            raise ValidationError({"anomaly_ids": [_("Your organisation has no anomaly with one of these ids.")]})
        if len(entities) != len(set(data["entity_ids"])):
            raise ValidationError({"entity_ids": [_("Your organisation has no entity with one of these ids.")]})
        try:
            case = services.case_create(
                actor=user,
                organization=user.organization,  # type: ignore[arg-type]
                title=data["title"],
                description=data["description"],
                priority=data["priority"],
                due_date=data["due_date"],
                lead=members.get(data["lead_id"]) if data["lead_id"] else None,
                team=[members[pk] for pk in data["team_ids"]],
                tags=data["tags"],
                anomalies=anomalies,
                entities=entities,
                records=data["records"],
            )
        except DjangoPermissionDenied as error:
            raise PermissionDenied(str(error)) from None
        return self._detail(case, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Move a case along its workflow",
        description="new → triage → investigating → pending_review → closed; a case waiting for review may go "
        "back to investigating, and a supervisor may close at triage or reopen a closed case. Closing needs a "
        "`classification`: `confirmed_fraud` with `amount_assessed`, `unfounded` or `referred` with a `reason`, "
        "`duplicate` with `duplicate_of`. The verdict becomes the status of the linked anomalies. 400 for a move "
        "the workflow does not allow, 403 when only a supervisor may make it.",
        parameters=[CASE_ID],
        request=CaseStatusSerializer,
        responses={200: CaseDetailSerializer},
    )
    @action(detail=True, methods=["post"], url_path="status", url_name="status")
    def status_set(self, request: Request, pk: str) -> Response:
        case = self._to_change()
        serializer = CaseStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        duplicate_of = None
        if data["duplicate_of"]:
            duplicate_of = selectors.case_list(user=request.user).filter(pk=data["duplicate_of"]).first()
            if duplicate_of is None:
                raise ValidationError({"duplicate_of": [_("You have no case with this id.")]})
        try:
            case = services.case_status_set(
                actor=self._user(),
                case=case,
                status=data["status"],
                classification=data["classification"],
                amount_assessed=data["amount_assessed"],
                reason=data["reason"],
                duplicate_of=duplicate_of,
            )
        except DjangoPermissionDenied as error:
            raise PermissionDenied(str(error)) from None
        return self._detail(case)

    @extend_schema(
        summary="A case's notes",
        description="GET lists the notes, oldest first, each with its Markdown and the sanitised HTML. POST adds "
        "one (needs the change permission on the case); colleagues mentioned as @username are notified.",
        parameters=[CASE_ID],
        request=CaseNoteSerializer,
        responses={200: CaseNoteSerializer(many=True), 201: CaseNoteSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def notes(self, request: Request, pk: str) -> Response:
        if request.method == "POST":
            case = self._to_change()
            serializer = CaseNoteSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            note = services.case_note_add(actor=self._user(), case=case, body=serializer.validated_data["body"])
            return Response(CaseNoteSerializer(note).data, status=status.HTTP_201_CREATED)
        case = cast(Case, self.get_object())
        page = self.paginate_queryset(selectors.case_notes(case=case))
        return self.get_paginated_response(CaseNoteSerializer(page, many=True).data)

    @extend_schema(
        summary="A case's reports",
        description="GET lists the reports the caller asked for on this case, newest first, each with a signed "
        "download link (issued to the caller, valid for a limited time) once it is ready. POST asks for one (PDF, "
        "XLSX, CSV or PPTX); a worker builds it and its status becomes `ready` or `failed`. Personal data stays "
        "masked unless the caller holds `export_pii` and has unlocked the case. A report counts against the "
        "organisation's daily quota beside the request itself: 429 with `Retry-After` once it is used up; 403 when "
        "the organisation's plan does not include the format.",
        parameters=[CASE_ID],
        request=CaseExportRequestSerializer,
        responses={200: CaseExportSerializer(many=True), 202: CaseExportSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def reports(self, request: Request, pk: str) -> Response:
        case = cast(Case, self.get_object())
        context = self.get_serializer_context()
        if request.method == "POST":
            serializer = CaseExportRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            try:
                export = services.case_export_request(
                    actor=self._user(), case=case, fmt=serializer.validated_data["fmt"]
                )
            except TierRefused as error:
                raise PermissionDenied(str(error)) from None
            return Response(CaseExportSerializer(export, context=context).data, status=status.HTTP_202_ACCEPTED)
        page = self.paginate_queryset(selectors.case_exports(user=request.user, case=case))
        return self.get_paginated_response(CaseExportSerializer(page, many=True, context=context).data)
