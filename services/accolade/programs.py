"""Program files: YAML documents in the shape of ../DESIGN's "Programs: rules as data".

Reading a file turns each document into the message its kind's admin RPC takes; problems
of shape (an unknown kind, a misspelt key) are found here, naming the document and the
key; problems of meaning (bad CEL, tiers out of order) come back from the service.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import leaderboards_service_pb2 as lb

API_VERSION = "accolade/v1"
# Each kind, and the message of its owner's admin RPC: achievements for badges and the
# level table, leaderboards for boards and scorecards.
KINDS: dict[str, type[Message]] = {
    "Badge": pb.BadgeDefinition,
    "LevelTable": pb.LevelTable,
    "Leaderboard": lb.LeaderboardDefinition,
    "Scorecard": lb.ScorecardDefinition,
}
# The kinds the leaderboards service owns.
BOARD_KINDS = ("Leaderboard", "Scorecard")
# The starter program, in a checkout of the project.
STARTER = Path(__file__).resolve().parents[2] / "deploy" / "programs" / "starter.yaml"
# Set by the service, never by a file.
_OUTPUT_ONLY = ("version", "effective_at", "archived")


class ProgramError(ValueError):
    """A program file that cannot be applied; `problems` lists each, for people."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclasses.dataclass(frozen=True, slots=True)
class Document:
    """One document of a program file.

    Attributes:
        source: where it is, such as "starter.yaml, document 3".
        kind: "Badge", "LevelTable", "Leaderboard" or "Scorecard".
        message: what the admin RPC takes.
    """

    source: str
    kind: str
    message: Message

    @property
    def name(self) -> str:
        """Its kind and id, such as "Badge csat-champion"."""
        return f"{self.kind} {self.message.metadata.id}"  # type: ignore[attr-defined]


def _unknown_keys(value: Any, descriptor: Any, at: str, out: list[str]) -> None:
    if not isinstance(value, dict):
        out.append(f"{at or 'document'}: must be a mapping")
        return
    for key, inner in value.items():
        field = descriptor.fields_by_name.get(str(key))
        path = f"{at}.{key}" if at else str(key)
        if field is None or (not at and key in _OUTPUT_ONLY):
            known = ", ".join(f for f in descriptor.fields_by_name if at or f not in _OUTPUT_ONLY)
            out.append(f"{path}: unknown field (known: {known})")
        elif (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and not field.message_type.full_name.startswith("google.protobuf")
            and not field.message_type.GetOptions().map_entry  # a map's keys are its own
        ):
            items = inner if field.is_repeated and isinstance(inner, list) else [inner]
            for i, item in enumerate(items):
                where = f"{path}[{i}]" if field.is_repeated else path
                _unknown_keys(item, field.message_type, where, out)


def parse(text: str, source: str) -> list[Document]:
    """The documents of a program file.

    Raises:
        ProgramError: a document is not YAML, names no known kind, or has a key its kind
            does not have; every problem of the file is listed.
    """
    try:
        raw = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ProgramError([f"{source}: not YAML: {exc}"]) from None
    problems: list[str] = []
    documents = []
    for i, doc in enumerate(raw, 1):
        where = f"{source}, document {i}"
        if not isinstance(doc, dict):
            problems.append(f"{where}: must be a mapping with apiVersion, kind, metadata and spec")
            continue
        ident = (
            (doc.get("metadata") or {}).get("id") if isinstance(doc.get("metadata"), dict) else None
        )
        if ident:
            where += f" ({doc.get('kind')} {ident})"
        if doc.get("apiVersion") != API_VERSION:
            problems.append(f"{where}: apiVersion: must be {API_VERSION}")
        kind = doc.get("kind")
        if kind not in KINDS:
            problems.append(f"{where}: kind: must be one of {', '.join(KINDS)}, not {kind!r}")
            continue
        body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
        found: list[str] = []
        _unknown_keys(body, KINDS[kind].DESCRIPTOR, "", found)
        if found:
            problems.extend(f"{where}: {p}" for p in found)
            continue
        try:
            message = json_format.ParseDict(body, KINDS[kind]())
        except json_format.ParseError as exc:
            problems.append(f"{where}: {exc}")
            continue
        documents.append(Document(where, kind, message))
    if problems:
        raise ProgramError(problems)
    return documents


_INT64 = (
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
)


def _plain(value: Any, descriptor: Any) -> Any:
    """JSON's spelling of a message made plain for YAML: 64-bit integers as numbers (JSON
    writes them as strings) and whole doubles without a decimal point."""
    out = {}
    for key, inner in value.items():
        field = descriptor.fields_by_name.get(key)
        items = inner if isinstance(inner, list) else [inner]
        if (
            field is not None
            and field.type == FieldDescriptor.TYPE_MESSAGE
            and isinstance(items[0] if items else None, dict)
        ):
            items = [_plain(i, field.message_type) for i in items]
        elif field is not None and field.type in _INT64:
            items = [int(i) for i in items]
        elif field is not None and field.type == FieldDescriptor.TYPE_DOUBLE:
            items = [int(i) if isinstance(i, float) and i.is_integer() else i for i in items]
        out[key] = items if isinstance(inner, list) else items[0]
    return out


def dump(kind: str, message: Message, *, with_version: bool = False) -> dict[str, Any]:
    """A document in the shape a program file holds it (defaults left out)."""
    body = _plain(
        json_format.MessageToDict(message, preserving_proto_field_name=True), message.DESCRIPTOR
    )
    out: dict[str, Any] = {"apiVersion": API_VERSION, "kind": kind}
    out["metadata"] = body.get("metadata", {})
    if with_version:
        for key in _OUTPUT_ONLY:
            if key in body:
                out["metadata"][key] = body[key]
    out["spec"] = body.get("spec", {})
    return out


def to_yaml(documents: list[dict[str, Any]]) -> str:
    """Documents as YAML, keys in the order a person reads them."""
    return str(yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, width=100))


def apply_request(
    tenant: str,
    documents: Sequence[Document],
    *,
    effective_at: datetime | None = None,
    only: Iterable[str] | None = None,
    dry_run: bool = False,
) -> pb.ApplyProgramRequest:
    """The achievements service's request applying `documents` (the badges `only` names,
    if given, and any level table).

    Raises:
        ProgramError: more than one level table.
    """
    tables = [d for d in documents if d.kind == "LevelTable"]
    if len(tables) > 1:
        raise ProgramError(
            [
                f"a tenant has one level table, but {', '.join(t.source for t in tables)} each hold one"
            ]
        )
    keep = set(only) if only is not None else None
    request = pb.ApplyProgramRequest(tenant_id=tenant, dry_run=dry_run)
    for d in documents:
        if isinstance(d.message, pb.BadgeDefinition) and (
            keep is None or d.message.metadata.id in keep
        ):
            request.badges.add().CopyFrom(d.message)
        elif isinstance(d.message, pb.LevelTable):
            request.level_table.CopyFrom(d.message)
    if effective_at is not None:
        request.effective_at.FromDatetime(effective_at)
    return request


def boards_request(
    tenant: str,
    documents: Sequence[Document],
    *,
    effective_at: datetime | None = None,
    dry_run: bool = False,
) -> lb.ApplyBoardsRequest:
    """The leaderboards service's request applying the boards and scorecards of
    `documents`."""
    request = lb.ApplyBoardsRequest(tenant_id=tenant, dry_run=dry_run)
    for d in documents:
        if isinstance(d.message, lb.LeaderboardDefinition):
            request.boards.add().CopyFrom(d.message)
        elif isinstance(d.message, lb.ScorecardDefinition):
            request.scorecards.add().CopyFrom(d.message)
    if effective_at is not None:
        request.effective_at.FromDatetime(effective_at)
    return request


def starter_boards(tenant: str, *, effective_at: datetime | None = None) -> lb.ApplyBoardsRequest:
    """The request applying the starter program's boards to `tenant`."""
    docs = parse(STARTER.read_text(encoding="utf-8"), STARTER.name)
    return boards_request(tenant, docs, effective_at=effective_at)


def starter(
    tenant: str, *, effective_at: datetime | None = None, only: Iterable[str] | None = None
) -> pb.ApplyProgramRequest:
    """The request applying the starter program (or the badges `only` names) to `tenant`."""
    docs = parse(STARTER.read_text(encoding="utf-8"), STARTER.name)
    return apply_request(tenant, docs, effective_at=effective_at, only=only)
