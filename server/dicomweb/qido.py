"""QIDO-RS: search for studies, series and instances (PS3.18 §10.6) among the x-rays the
caller may see. Answers are DICOM JSON; `[]` when nothing matches."""

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web
from multidict import MultiMapping
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset

from server.dicomweb.common import base_url, dicom_json, dicom_name, visible_xrays
from server.endpoint import ANY_USER, Context, Declaration, endpoint
from server.errors import BadRequest
from server.ingest import dicom_date
from server.orm import XRayRow
from shared.enums import AuditObjectType

routes = web.RouteTableDef()
XRAY = AuditObjectType.xray
MATCHING = {
    "PatientID",
    "PatientName",
    "StudyDate",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "Modality",
    "ModalitiesInStudy",
}
CONTROL = {"limit", "offset", "includefield", "fuzzymatching"}


@dataclass(frozen=True, slots=True)
class Query:
    filters: dict[str, str]
    fuzzy: bool
    limit: int | None
    offset: int
    include_all: bool
    include: frozenset[str]


def keyword_of(name: str) -> str:
    """A query key as a keyword: "PatientID" or its tag "00100020"."""
    if len(name) == 8 and all(c in "0123456789abcdefABCDEF" for c in name):
        keyword = keyword_for_tag(int(name, 16))
        if keyword:
            return str(keyword)
    if tag_for_keyword(name) is not None:
        return name
    raise BadRequest(f"Unknown attribute in the query: {name}.")


def parse_query(query: MultiMapping[str]) -> Query:
    filters: dict[str, str] = {}
    include: set[str] = set()
    include_all = False
    for key, value in query.items():
        if key == "includefield":
            for field in value.split(","):
                field = field.strip()
                if field == "all":
                    include_all = True
                elif field:
                    include.add(keyword_of(field))
        elif key not in CONTROL:
            keyword = keyword_of(key)
            if keyword not in MATCHING:
                raise BadRequest(f"Searching by {keyword} is not supported.")
            filters[keyword] = value
    return Query(
        filters=filters,
        fuzzy=query.get("fuzzymatching", "false").lower() == "true",
        limit=_number(query, "limit"),
        offset=_number(query, "offset") or 0,
        include_all=include_all,
        include=frozenset(include),
    )


def _number(query: MultiMapping[str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest(f"{name} must be a non-negative integer.")
    return int(raw)


def _date_range(text: str) -> tuple[date | None, date | None]:
    start, dash, end = text.partition("-")
    first, last = dicom_date(start) if start else None, dicom_date(end) if end else None
    if (start and first is None) or (end and last is None):
        raise BadRequest("StudyDate is YYYYMMDD or a range YYYYMMDD-YYYYMMDD.")
    return (first, last) if dash else (first, first)


def _names_match(pattern: str, xray: XRayRow, fuzzy: bool) -> bool:
    names = [dicom_name(xray.patient.full_name), xray.file_patient_name or ""]
    wanted = pattern.casefold()
    if fuzzy:  # any name component starting with what was typed
        return any(
            part.startswith(wanted.rstrip("*"))
            for name in names
            for part in name.casefold().replace("^", " ").split()
        )
    return any(fnmatch.fnmatchcase(name.casefold(), wanted) for name in names)


def matches(xray: XRayRow, query: Query) -> bool:
    for keyword, value in query.filters.items():
        if keyword == "PatientName":
            if not _names_match(value, xray, query.fuzzy):
                return False
        elif keyword == "StudyDate":
            first, last = _date_range(value)
            when = xray.study_date
            if when is None or (first and when < first) or (last and when > last):
                return False
        elif keyword == "PatientID":
            if not fnmatch.fnmatchcase(
                (xray.patient.record_number or "").casefold(), value.casefold()
            ):
                return False
        else:
            actual = {
                "StudyInstanceUID": xray.study_instance_uid,
                "SeriesInstanceUID": xray.series_instance_uid,
                "SOPInstanceUID": xray.sop_instance_uid,
                "Modality": xray.modality,
                "ModalitiesInStudy": xray.modality,
            }[keyword]
            if actual not in value.split(","):  # UID lists, modality lists
                return False
    return True


def _study_attributes(ctx: Context, xrays: list[XRayRow], query: Query) -> Dataset:
    first = xrays[0]
    dataset = Dataset()
    dataset.StudyInstanceUID = first.study_instance_uid
    dataset.StudyDate = first.study_date.strftime("%Y%m%d") if first.study_date else ""
    dataset.StudyTime = ""
    dataset.AccessionNumber = ""
    dataset.ReferringPhysicianName = ""
    dataset.ModalitiesInStudy = sorted({x.modality or "OT" for x in xrays})
    dataset.PatientName = first.file_patient_name or dicom_name(first.patient.full_name)
    dataset.PatientID = first.patient.record_number or ""
    dataset.StudyID = ""
    dataset.NumberOfStudyRelatedSeries = len({x.series_instance_uid for x in xrays})
    dataset.NumberOfStudyRelatedInstances = len(xrays)
    dataset.RetrieveURL = f"{base_url(ctx)}/studies/{first.study_instance_uid}"
    if query.include_all or "PatientBirthDate" in query.include:
        dataset.PatientBirthDate = first.file_birth_date or ""
    if query.include_all or "StudyDescription" in query.include:
        dataset.StudyDescription = first.name_of_xray
    return dataset


def _series_attributes(ctx: Context, xrays: list[XRayRow], query: Query) -> Dataset:
    first = xrays[0]
    dataset = Dataset()
    dataset.StudyInstanceUID = first.study_instance_uid
    dataset.SeriesInstanceUID = first.series_instance_uid
    dataset.Modality = first.modality or "OT"
    dataset.SeriesNumber = 1
    dataset.NumberOfSeriesRelatedInstances = len(xrays)
    dataset.RetrieveURL = (
        f"{base_url(ctx)}/studies/{first.study_instance_uid}/series/{first.series_instance_uid}"
    )
    if query.include_all or "SeriesDescription" in query.include:
        dataset.SeriesDescription = first.name_of_xray
    if query.include_all or "StudyDate" in query.include:
        dataset.StudyDate = first.study_date.strftime("%Y%m%d") if first.study_date else ""
    return dataset


def _instance_attributes(ctx: Context, xrays: list[XRayRow], query: Query) -> Dataset:
    xray = xrays[0]
    dataset = _series_attributes(ctx, xrays, query)
    dataset.SOPClassUID = xray.sop_class_uid
    dataset.SOPInstanceUID = xray.sop_instance_uid
    dataset.InstanceNumber = 1
    dataset.Rows, dataset.Columns = xray.height, xray.width
    dataset.RetrieveURL = f"{dataset.RetrieveURL}/instances/{xray.sop_instance_uid}"
    return dataset


Describe = Callable[[Context, list[XRayRow], Query], Dataset]
GROUPING: dict[str, tuple[Callable[[XRayRow], str], Describe]] = {
    "study": (lambda x: x.study_instance_uid, _study_attributes),
    "series": (lambda x: x.series_instance_uid, _series_attributes),
    "instance": (lambda x: x.sop_instance_uid, _instance_attributes),
}


async def search(ctx: Context, level: str, scope: dict[str, str]) -> web.Response:
    query = parse_query(ctx.request.query)
    query.filters.update(scope)
    every: list[XRayRow] = list((await ctx.db.scalars(visible_xrays(ctx))).all())
    xrays = [xray for xray in every if matches(xray, query)]
    key, describe = GROUPING[level]
    groups: dict[str, list[XRayRow]] = {}
    for xray in xrays:
        groups.setdefault(key(xray), []).append(xray)
    chosen = list(groups.values())[query.offset :]
    if query.limit is not None:
        chosen = chosen[: query.limit]
    ctx.audit.record_patients(XRAY, {x.user_id for group in chosen for x in group})
    items: list[dict[str, Any]] = [describe(ctx, group, query).to_json_dict() for group in chosen]
    return dicom_json(items)


def _declare(summary: str) -> Declaration:
    return endpoint(
        summary,
        roles=ANY_USER,
        subject=XRAY,
        extra_responses={400: "A query medsys does not support"},
    )


@routes.get("/dicomweb/studies")
@_declare("QIDO-RS: search for studies (application/dicom+json)")
async def search_studies(ctx: Context) -> web.Response:
    return await search(ctx, "study", {})


@routes.get("/dicomweb/series")
@_declare("QIDO-RS: search for series")
async def search_series(ctx: Context) -> web.Response:
    return await search(ctx, "series", {})


@routes.get("/dicomweb/instances")
@_declare("QIDO-RS: search for instances")
async def search_instances(ctx: Context) -> web.Response:
    return await search(ctx, "instance", {})


@routes.get("/dicomweb/studies/{study}/series")
@_declare("QIDO-RS: search for a study's series")
async def search_study_series(ctx: Context) -> web.Response:
    return await search(ctx, "series", {"StudyInstanceUID": ctx.request.match_info["study"]})


@routes.get("/dicomweb/studies/{study}/instances")
@_declare("QIDO-RS: search for a study's instances")
async def search_study_instances(ctx: Context) -> web.Response:
    return await search(ctx, "instance", {"StudyInstanceUID": ctx.request.match_info["study"]})


@routes.get("/dicomweb/studies/{study}/series/{series}/instances")
@_declare("QIDO-RS: search for a series' instances")
async def search_series_instances(ctx: Context) -> web.Response:
    info = ctx.request.match_info
    scope = {"StudyInstanceUID": info["study"], "SeriesInstanceUID": info["series"]}
    return await search(ctx, "instance", scope)
