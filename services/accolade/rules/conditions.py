"""CEL conditions over an event's payload and the agent's roster entry.

A condition is compiled once per definition version and type-checked against the
declared shape of its event type (the payload's protobuf message), so a misspelt field
is refused when the program is applied, with its line and column, not found at run time.
Payloads and roster entries are passed to CEL as the protobuf messages they already
are: no conversion per event.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from typing import Any

import cel_expr_python.cel as cel
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FieldDescriptor

from accolade.v1 import envelope_pb2, events_pb2

# The payload types a rule may count: the facts contact-center systems report, and a
# board's final standings.
EVENT_TYPES = (
    "interaction_completed",
    "survey_submitted",
    "qa_evaluated",
    "training_completed",
    "certification_passed",
    "adherence_reported",
    "metric_reported",
    "period_closed",  # from leaderboards: a board's final standings, for its top agents
)
# A longer expression is refused: conditions are meant to be read by people.
MAX_EXPRESSION = 2000
_AGENT_TYPE = events_pb2.AgentUpdated.DESCRIPTOR.full_name
_NUMERIC = {
    FieldDescriptor.TYPE_DOUBLE,
    FieldDescriptor.TYPE_FLOAT,
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
}
_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")
# CEL marks the column under the expression with a caret after one dot per character.
_CARET = re.compile(r"^ \| (\.*)\^", re.MULTILINE)


class ConditionError(ValueError):
    """A condition that does not compile, with where in the expression and why."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        where = f"{line}:{column}: " if line else ""
        super().__init__(f"{where}{message}")
        self.line = line
        self.column = column


def _payload(event_type: str) -> Any:
    return envelope_pb2.Envelope.DESCRIPTOR.fields_by_name[event_type].message_type


def payload_type(event_type: str) -> str:
    """The full protobuf name of the payload an event type carries."""
    return str(_payload(event_type).full_name)


@functools.cache
def _env(event_type: str) -> Any:
    return cel.NewEnv(
        descriptor_pool.Default(),
        variables={"event": cel.Type(payload_type(event_type)), "agent": cel.Type(_AGENT_TYPE)},
        container="accolade.v1",
    )


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_ATOM = re.compile(r"^(!?)(event|agent)\.([a-z_][a-z0-9_]*)(?:\s*(==|!=|>=|<=|>|<)\s*(.+?))?$")
_LITERAL = re.compile(
    r'^(-?\d+(?:\.\d+)?|true|false|"[^"\\]*"|[A-Z][A-Za-z0-9_]*\.[A-Z][A-Z0-9_]*'
    r'|duration\("\d+(?:\.\d+)?s"\))$'
)
_DURATION = "google.protobuf.Duration"


def _literal(text: str, field: Any) -> object:
    if text.startswith("duration("):
        return float(text[len('duration("') : -len('s")')])  # seconds, as read_number reads
    if text in ("true", "false"):
        return text == "true"
    if text.startswith('"'):
        return text[1:-1]
    if "." in text and not text[0].isdigit() and text[0] != "-":
        values = field.enum_type.values_by_name if field.enum_type is not None else {}
        name = text.split(".", 1)[1]
        if name not in values:
            raise ValueError(text)
        return values[name].number
    return float(text) if "." in text else int(text)


def _fast(event_type: str, source: str) -> Callable[[Any, Any], bool] | None:
    """The condition as plain Python, when it is a conjunction of field comparisons with
    literals (most are): a tenth of evaluating it in CEL. None for anything else.

    Called only on a source CEL has type-checked, so each field exists and each
    comparison is between compatible types; proto3 defaults read the same in both.
    """
    bare = source.replace('duration("', "").replace('s")', "")
    if any(c in bare for c in "()|?[]'\n\\") or source.count('"') > 2 * source.count("&&") + 2:
        return None
    tests: list[Callable[[Any, Any], bool]] = []
    messages = {"event": _payload(event_type), "agent": events_pb2.AgentUpdated.DESCRIPTOR}
    for part in source.split("&&"):
        m = _ATOM.match(part.strip())
        if m is None:
            return None
        negate, var, name, op, literal = m.groups()
        field = messages[var].fields_by_name.get(name)
        if field is None or field.is_repeated:
            return None
        duration = (
            field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name == _DURATION
        )
        if field.type == FieldDescriptor.TYPE_MESSAGE and not duration:
            return None
        if duration != bool(literal and literal.startswith("duration(")):
            return None  # a duration compares with a duration literal only
        get: Callable[[Any], Any] = (
            functools.partial(read_number, name=name) if duration else operator.attrgetter(name)
        )
        at = 0 if var == "event" else 1
        if op is None:
            if field.type != FieldDescriptor.TYPE_BOOL:
                return None
            tests.append(_truth(get, at, bool(negate)))
            continue
        if negate or not _LITERAL.match(literal):
            return None
        try:
            tests.append(_compare(get, at, _OPS[op], _literal(literal, field)))
        except ValueError:
            return None
    if len(tests) == 1:
        return tests[0]
    return lambda payload, agent: all(t(payload, agent) for t in tests)


def _truth(get: Callable[[Any], Any], at: int, negate: bool) -> Callable[[Any, Any], bool]:
    if at == 0:
        return (lambda p, a: not get(p)) if negate else (lambda p, a: bool(get(p)))
    return (lambda p, a: not get(a)) if negate else (lambda p, a: bool(get(a)))


def _compare(
    get: Callable[[Any], Any], at: int, op: Callable[[Any, Any], bool], value: object
) -> Callable[[Any, Any], bool]:
    if at == 0:
        return lambda p, a: op(get(p), value)
    return lambda p, a: op(get(a), value)


class Condition:
    """A compiled condition; `holds` evaluates it on one payload and roster entry."""

    __slots__ = ("_expr", "always", "fast", "source")

    def __init__(self, event_type: str, source: str) -> None:
        """Compiles `source` for events of `event_type`.

        Raises:
            ConditionError: it does not parse, names an unknown field, or is not a bool.
        """
        self.source = source
        # No condition: every event of the type counts, without evaluating anything.
        self.always = source.strip() in ("", "true")
        if len(source) > MAX_EXPRESSION:
            raise ConditionError(f"must be at most {MAX_EXPRESSION} characters")
        try:
            self._expr = _env(event_type).compile(source)
        except RuntimeError as exc:
            m = _POSITION.search(str(exc))
            if m is None:
                raise ConditionError(str(exc)) from None
            caret = _CARET.search(str(exc))
            column = len(caret.group(1)) + 1 if caret else int(m.group(2))
            raise ConditionError(m.group(3), int(m.group(1)), column) from None
        returns = self._expr.return_type().name()
        if returns not in ("bool", "BOOL"):
            raise ConditionError(f"must be true or false, not a {returns.lower()}")
        self.fast = None if self.always else _fast(event_type, source.strip())

    def holds(self, payload: Any, agent: Any) -> bool:
        """True when the condition holds; an evaluation error (say, a division by zero)
        counts as not holding."""
        if self.always:
            return True
        if self.fast is not None:
            return self.fast(payload, agent)
        # An evaluation error comes back as an error value whose value() is a message.
        return self._expr.eval(data={"event": payload, "agent": agent}).value() is True

    def holds_in_cel(self, payload: Any, agent: Any) -> bool:
        """`holds`, always by CEL (to check the plain-Python form against)."""
        return self._expr.eval(data={"event": payload, "agent": agent}).value() is True

    def holds_in(self, activation: Any) -> bool:
        """`holds`, on an activation made once per event by `activation`."""
        if self.always:
            return True
        return self._expr.eval(activation).value() is True


def activation(event_type: str, payload: Any, agent: Any) -> Any:
    """The variables of every condition on one event, bound once: evaluating several
    conditions on one activation costs a third of binding them each time."""
    return _env(event_type).Activation({"event": payload, "agent": agent})


def numeric_field(event_type: str, name: str) -> str | None:
    """Why payload field `name` cannot be summed, or None when it can.

    Numbers and durations (read in seconds) can.
    """
    message = _payload(event_type)
    field = message.fields_by_name.get(name)
    if field is None:
        known = ", ".join(sorted(message.fields_by_name))
        return f"{event_type} has no field {name!r} (it has {known})"
    if field.is_repeated:
        return f"{event_type}.{name} is a list, not a number"
    if field.type in _NUMERIC:
        return None
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name == (
        "google.protobuf.Duration"
    ):
        return None
    return f"{event_type}.{name} is not a number or a duration"


def boolean_field(event_type: str, name: str) -> str | None:
    """Why payload field `name` is not a yes-or-no field whose rate can be taken, or
    None when it is."""
    message = _payload(event_type)
    field = message.fields_by_name.get(name)
    if field is None:
        known = ", ".join(sorted(message.fields_by_name))
        return f"{event_type} has no field {name!r} (it has {known})"
    if field.is_repeated or field.type != FieldDescriptor.TYPE_BOOL:
        return f"{event_type}.{name} is not a yes-or-no (bool) field"
    return None


def read_number(payload: Any, name: str) -> float:
    """A numeric payload field's value; durations in seconds."""
    value = getattr(payload, name)
    if isinstance(value, int | float):
        return float(value)
    return float(value.seconds) + float(value.nanos) / 1e9
