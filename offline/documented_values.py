"""Check recorded inputs against the values the pulumi-aws SDK documents as allowed.

The pulumi-aws Python SDK carries the provider's argument documentation as docstrings: every
``*Args`` class (``pulumi_aws/<module>/<resource>.py``) and every nested input class
(``pulumi_aws/<module>/_inputs.py``) has one property per argument, whose getter is tagged with the
camelCase wire name (``@pulumi.getter(name="healthCheck")``) and documented with a docstring such as
"Should be one of `HTTP`, `HTTPS` ..." or "The range is 2-10". Some arguments are also typed with
an enum class from ``_enums.py``. This module walks a resource's recorded inputs, at every depth,
finds each argument's docstring and annotation, and checks the value against what they state.

What counts as a statement of allowed values (deliberately conservative):

* a sentence with a trigger phrase -- "valid/allowed/possible/supported/accepted value(s) are/is/:",
  "the only valid value is", "should/must/can be (either) one of", a sentence starting "One of",
  "either of the following is supported", "the following <things> are supported",
  "other supported values are" -- followed directly by backticked values (`A`, `B`) or by a plain
  list of numbers (1, 3, 5 and 0). "any multiple of `60`" / "a multiple of `31`" is read as a
  multiple. Extra values named in "`X` and `Y` are also valid" or "the values `X` ... are used
  only for ..." are added to a list or range found elsewhere in the same docstring, and the
  documented default ("Defaults to `X`", "the default is `X`") to a list;
* a numeric range anywhere: "between X and Y", "between `X` and `Y`", "between 128 MB to 32,768 MB",
  "the range is X-Y" (also with an en dash), "range from X to Y"; backticked numbers in the same
  sentence as a range are extra allowed values ("can be `0` ... or range from `7` to `30`");
  "must be either -1 ... or between" and "... or 0 to disable" add that number;
  "must be a (non-zero) positive integer" is the range [1, inf). A range followed by
  "characters"/"bytes"/"length" is a length limit and is applied to strings only.

Several statements in one docstring are alternatives (they are often per-case: "For Application
Load Balancers, valid values are ... For Network Load Balancers, valid values are ..."), so a value
passes if any of them allows it. An enum annotation is unioned with the docstring's list the same
way. Ranges apply to numbers and to strings that are plain integers; lists of values apply to
strings, to numbers only when the list holds numbers, and to booleans only when it holds
`true`/`false`; lists of scalars are checked item by item; maps (tags) are not checked.

What is skipped, and why (recorded in ``Report.skipped`` with the sentence, never silently):

* a trigger sentence with "such as", "e.g.", "for example", "include(s/d/ing)" or "like" ("Valid
  values include ..."): the values are examples, not the full set (e.g. ``autoscaling.Schedule.time_zone``: "Valid
  values are the canonical names of the IANA time zones (such as `Etc/GMT+9` ...)");
* a trigger sentence whose values are not listed right after it ("The allowed values are defined by
  the [underlying AWS API]", "Valid values depend on `storage_class`, see ...");
* a trigger sentence whose subject is another argument ("The `health_check.protocol` must be one of
  `HTTP` or `HTTPS`" inside the docstring of ``matcher``): it constrains that argument, not this one;
* a list of values documented as JSON arrays (`["x86_64"]`) is read as its elements, and a digit
  pattern such as `2XX` matches any digit in place of X (the ELB status codes); any other form
  (objects, regular expressions, wildcards) is compared literally or not parsed;
* an enum annotation whose docstring defers to AWS for the current set ("See [Runtimes](...) for
  valid values", "see [AWS Documentation] for currently available instance classes", "The allowed
  values are defined by the [underlying AWS API]"): such enums (``lambda.Runtime``,
  ``rds.InstanceType``) are convenience lists that trail AWS (``rds.InstanceType`` has no
  ``db.r7g`` or ``db.serverless``), so they are not read as the full set;
* a constraint that does not apply to the value's type (a list of words for a number, a range for a
  non-numeric string, anything for a map) -- counted as "not applicable".
"""

from __future__ import annotations

import enum
import functools
import importlib
import json
import keyword
import math
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------- parsing

_BACKTICKED = re.compile(r"`([^`]*)`")
_NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
_TRIGGER = re.compile(
    r"""(?:
        \b(?:the\s+)?only\s+(?:valid|allowed|possible|supported)\s+values?\s+(?:is|are)\b\s*:?
      | \b(?:valid|allowed|possible|supported|accepted)\s+values?\s*(?:(?:are|is|include[sd]?)\b\s*:?|:)
      | \b(?:should|must|can)\s+be\s+(?:either\s+)?one\s+of\b\s*:?
      | ^one\s+of\b\s*:?
      | \beither\s+of\s+the\s+following\s+(?:is|are)\s+supported\s*:?
      | \bthe\s+following\s+[\w\s]{0,30}?(?:is|are)\s+supported\s*:?
      | \bother\s+supported\s+values\s+are\b\s*:?
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_EXAMPLES = re.compile(r"\b(?:such as|e\.g\.|for example|include[sd]?|including|like)\b", re.IGNORECASE)
_STARTS_WITH_VALUES = re.compile(rf"^\s*(?:either\s+)?(?:`|{_NUMBER}\b|(?:any|a)\s+multiple\s+of\b)", re.I)
_NUMERIC_LIST = re.compile(rf"^\s*((?:{_NUMBER}\s*(?:,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+))+{_NUMBER})\b")
_MULTIPLE = re.compile(r"\b(?:any|a)\s+multiple\s+of\s+`?(\d+)`?", re.IGNORECASE)
_ALSO_VALID = re.compile(r"^(.*?)\b(?:are|is)\s+also\s+(?:valid|supported|allowed)\b", re.IGNORECASE)
_THE_VALUES_ARE = re.compile(r"\bthe\s+values\s+((?:`[^`]+`[\s,]*(?:and\s+|or\s+)?)+)(?:are|is)\b", re.IGNORECASE)
_DEFAULT = re.compile(
    rf"\b(?:defaults?\s+(?:to|is)|default\s+is|default:|with\s+a\s+default\s+of|the\s+default\s+value\s+is)"
    rf"\s*(?:`([^`]+)`|({_NUMBER})(?![\w.]))",
    re.IGNORECASE,
)
_RANGES = (
    re.compile(
        rf"\bbetween\s+`?({_NUMBER})`?(?:\s*[A-Za-z%]+)?\s+(?:and|to)\s+`?({_NUMBER})`?"
        r"(?P<unit>\s*(?:characters|chars|bytes|length)\b)?",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\brange\s+(?:is|from)\s*:?\s*`?({_NUMBER})`?\s*(?:-|\u2013|to)\s*`?({_NUMBER})`?(?P<unit>\s*(?:characters|chars|bytes|length)\b)?",
        re.IGNORECASE,
    ),
)
# "Must be either -1 (forever) or between 60 and 604800", "The range is 30-900 seconds or 0 to disable".
_RANGE_ALTERNATIVE = re.compile(rf"\beither\s+`?({_NUMBER})`?|\b({_NUMBER})`?\s+to\s+disable\b", re.IGNORECASE)
_POSITIVE_INTEGER = re.compile(r"\bmust\s+be\s+a\s+(?:non-zero\s+)?positive\s+integer\b", re.IGNORECASE)
# "One of `filename`, `image_uri`, or `s3_bucket` must be specified": a choice between arguments.
_ARGUMENT_CHOICE = re.compile(
    r"\b(?:must|should|can)\s+be\s+(?:specified|supplied|provided|set|configured)\b|\b(?:is|are)\s+required\b",
    re.IGNORECASE,
)
# The docs point to AWS for the full, changing set (Lambda runtimes, RDS instance classes).
_DEFERS = re.compile(r"\bfor\s+(?:valid\s+values|currently\s+available)|\bvalues\s+are\s+defined\s+by\b", re.IGNORECASE)
# A backticked snake_case argument name (or dotted path) before the trigger: the subject is another argument.
_OTHER_ARGUMENT = re.compile(r"`[a-z][a-z0-9]*(?:[_.][a-z0-9]+)+`")


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _canonical(value: Any) -> str:
    """A scalar as the docs write it: ``True`` -> ``true``, ``300.0`` -> ``300``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_number_text(text: str) -> bool:
    return re.fullmatch(r"-?\d+(?:\.\d+)?", text) is not None


# A digit pattern such as `2XX` (any HTTP 2xx code), as the ELB docs write status codes.
_DIGIT_PATTERN = re.compile(r"(?=[\dXx]*\d)[\dXx]*[Xx][\dXx]*")


def _in_values(text: str, values: frozenset[str]) -> bool:
    if text in values:
        return True
    return any(_DIGIT_PATTERN.fullmatch(v) and re.fullmatch(re.sub("[Xx]", r"\\d", v), text) for v in values)


def _numeric_value(text: str) -> bool:
    return _is_number_text(text) or _DIGIT_PATTERN.fullmatch(text) is not None


def _sentences(doc: str) -> list[str]:
    """The docstring's sentences, whitespace normalised; periods inside backticks do not split."""
    text = " ".join(doc.split())
    masked = _BACKTICKED.sub(lambda m: m.group(0).replace(".", "\x00"), text)
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z*>(\[`])|\s+\*\s+", masked)
    return [p.replace("\x00", ".").strip() for p in parts if p.strip()]


def _values_in(text: str) -> list[str]:
    """Backticked values; a JSON array value (`["x86_64"]`) contributes its elements."""
    out: list[str] = []
    for raw in _BACKTICKED.findall(text):
        if raw.startswith("["):
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, list):
                out.extend(_canonical(v) for v in parsed if not isinstance(v, (dict, list)))
            continue
        out.append(raw)
    return out


@dataclass(frozen=True)
class Constraint:
    """What one argument's documentation allows. Empty fields state nothing."""

    values: frozenset[str] = frozenset()
    ranges: tuple[tuple[float, float], ...] = ()
    multiples: tuple[float, ...] = ()
    lengths: tuple[tuple[float, float], ...] = ()
    statements: tuple[str, ...] = ()
    from_enum: str = ""

    def __bool__(self) -> bool:
        return bool(self.values or self.ranges or self.multiples or self.lengths)

    def describe(self) -> str:
        parts = []
        if self.values:
            ordered = sorted(self.values, key=lambda v: (0, float(v), v) if _is_number_text(v) else (1, 0.0, v))
            parts.append("one of " + ", ".join(ordered))
        parts += [f"{_canonical(lo)}..{_canonical(hi)}" for lo, hi in self.ranges]
        parts += [f"a multiple of {_canonical(m)}" for m in self.multiples]
        parts += [f"{_canonical(lo)}..{_canonical(hi)} characters long" for lo, hi in self.lengths]
        if self.from_enum:
            parts.append(f"(enum {self.from_enum})")
        return "; or ".join(parts)

    def union(self, other: Constraint) -> Constraint:
        return Constraint(
            values=self.values | other.values,
            ranges=self.ranges + other.ranges,
            multiples=self.multiples + other.multiples,
            lengths=self.lengths + other.lengths,
            statements=self.statements + other.statements,
            from_enum=self.from_enum or other.from_enum,
        )


@dataclass(frozen=True)
class ParsedDoc:
    constraint: Constraint
    skipped: tuple[tuple[str, str], ...]
    """(reason, sentence) for every statement the parser saw but would not trust."""


def _trigger_statement(sentence: str, siblings: frozenset[str]) -> tuple[set[str], list[float], str | None]:
    """Values and multiples a trigger sentence lists, or a reason to skip it."""
    match = _TRIGGER.search(sentence)
    assert match is not None
    if _OTHER_ARGUMENT.search(sentence[: match.start()]):
        return set(), [], "the statement is about another argument"
    rest = sentence[match.end() :]
    if _EXAMPLES.search(sentence[match.start() :]):
        return set(), [], "the values are examples, not the full set"
    if not _STARTS_WITH_VALUES.match(rest):
        return set(), [], "no values listed after the statement"
    multiples = [float(m) for m in _MULTIPLE.findall(rest)]
    rest = _MULTIPLE.sub("", rest)
    values = set(_values_in(rest))
    if values and (values <= siblings or (values & siblings and _ARGUMENT_CHOICE.search(rest))):
        return set(), [], "the statement lists arguments, not values"
    if not values and not multiples:
        numbers = _NUMERIC_LIST.match(rest)
        if numbers is None:
            return set(), [], "values not in a form the parser reads"
        values = {_canonical(_number(n)) for n in re.findall(_NUMBER, numbers.group(1))}
    return values, multiples, None


@functools.cache
def parse_doc(doc: str, siblings: frozenset[str] = frozenset()) -> ParsedDoc:
    """The constraint a docstring states, and the statements it skipped (see the module docstring).

    ``siblings`` are the argument names of the class the docstring belongs to: a list of them
    ("One of `filename`, `image_uri`, or `s3_bucket` must be specified") is not a list of values.
    """
    values: set[str] = set()
    multiples: list[float] = []
    ranges: list[tuple[float, float]] = []
    lengths: list[tuple[float, float]] = []
    statements: list[str] = []
    skipped: list[tuple[str, str]] = []
    extra: set[str] = set()
    defaults: set[str] = set()
    for sentence in _sentences(doc):
        used = False
        if _TRIGGER.search(sentence):
            found, found_multiples, reason = _trigger_statement(sentence, siblings)
            if reason and not any(p.search(sentence) for p in _RANGES):
                skipped.append((reason, sentence))
            else:
                values |= found
                multiples += found_multiples
                used = True
        for pattern in _RANGES:
            for m in pattern.finditer(sentence):
                lo, hi = _number(m.group(1)), _number(m.group(2))
                (lengths if m.group("unit") else ranges).append((lo, hi))
                used = True
                if not m.group("unit"):
                    bounds = {m.group(1).replace(",", ""), m.group(2).replace(",", "")}
                    extra |= {v for v in _values_in(sentence) if _is_number_text(v) and v not in bounds}
                    extra |= {
                        _canonical(_number(a.group(1) or a.group(2))) for a in _RANGE_ALTERNATIVE.finditer(sentence)
                    }
        if _POSITIVE_INTEGER.search(sentence):
            ranges.append((1, math.inf))
            used = True
        if (also := _ALSO_VALID.match(sentence)) and not _TRIGGER.search(sentence):
            extra |= set(_values_in(also.group(1)))
            used = True
        if the_values := _THE_VALUES_ARE.search(sentence):
            extra |= set(_values_in(the_values.group(1)))
            used = True
        for d in _DEFAULT.finditer(sentence):
            defaults |= set(_values_in(d.group(0))) if d.group(1) is not None else {_canonical(_number(d.group(2)))}
        if used:
            statements.append(sentence)
    if values or multiples:
        values |= defaults  # the default is allowed wherever a list is documented
    if values or ranges or multiples:
        values |= extra
    constraint = Constraint(
        values=frozenset(values),
        ranges=tuple(ranges),
        multiples=tuple(multiples),
        lengths=tuple(lengths),
        statements=tuple(statements) if (values or ranges or multiples or lengths) else (),
    )
    return ParsedDoc(constraint=constraint, skipped=tuple(skipped))


# --------------------------------------------------------------------------- SDK lookup


@dataclass(frozen=True)
class Argument:
    """One documented argument of an SDK input class."""

    owner: str
    python_name: str
    doc: str
    siblings: frozenset[str]
    """Every argument name (snake_case and camelCase) of the owning class."""
    nested: type | None
    enum_values: frozenset[str]
    enum_name: str


def _sdk_module(type_token: str) -> Any:
    module = type_token.split(":")[1].split("/", maxsplit=1)[0]
    if module == "index":
        return importlib.import_module("pulumi_aws")
    return importlib.import_module(f"pulumi_aws.{module}_" if keyword.iskeyword(module) else f"pulumi_aws.{module}")


@functools.cache
def args_class(type_token: str) -> type:
    """The ``*Args`` class of a resource type token (``aws:lb/targetGroup:TargetGroup`` -> ``TargetGroupArgs``).

    Looked up in the resource's own module: a nested input class in ``_inputs.py`` can have the
    same name (``s3.BucketLoggingArgs`` is a legacy nested block; the resource's is ``BucketLoggingInitArgs``).
    """
    class_name = type_token.rsplit(":", 1)[1]
    resource_cls = getattr(_sdk_module(type_token), class_name)
    module = sys.modules[resource_cls.__module__]
    # On a clash the SDK names the resource's own class ``<Class>InitArgs`` (s3.BucketLoggingInitArgs).
    for candidate in (f"{class_name}InitArgs", f"{class_name}Args"):
        found = getattr(module, candidate, None)
        if isinstance(found, type) and found.__module__ == module.__name__:
            return found
    raise LookupError(f"no args class for {type_token} in {module.__name__}")


def _forward_names(annotation: Any) -> Iterator[Any]:
    """Classes and forward-referenced names inside a (nested) typing annotation."""
    if isinstance(annotation, type):
        yield annotation
    forward = getattr(annotation, "__forward_arg__", None)
    if isinstance(forward, str):
        yield forward
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _forward_names(arg)


@functools.cache
def arguments(cls: type) -> Mapping[str, Argument]:
    """The documented arguments of an SDK input class, keyed by camelCase wire name."""
    namespace = vars(sys.modules[cls.__module__])
    getters = {
        python_name: attr.fget
        for klass in reversed(cls.__mro__)
        for python_name, attr in vars(klass).items()
        if isinstance(attr, property) and attr.fget is not None
    }
    siblings = frozenset(getters) | {getattr(g, "_pulumi_name", n) for n, g in getters.items()}
    out: dict[str, Argument] = {}
    for python_name, getter in getters.items():
        nested: type | None = None
        enums: list[type[enum.Enum]] = []
        for ref in _forward_names(getattr(getter, "__annotations__", {}).get("return")):
            resolved = namespace.get(ref) if isinstance(ref, str) else ref
            if not isinstance(resolved, type):
                continue
            if issubclass(resolved, enum.Enum):
                enums.append(resolved)
            elif getattr(resolved, "_pulumi_input_type", False) and nested is None:
                nested = resolved
        out[getattr(getter, "_pulumi_name", python_name)] = Argument(
            owner=cls.__name__,
            python_name=python_name,
            doc=getter.__doc__ or "",
            siblings=siblings,
            nested=nested,
            enum_values=frozenset(str(m.value) for e in enums for m in e),
            enum_name=",".join(sorted({e.__name__ for e in enums})),
        )
    return out


@functools.cache
def constraint_of(argument: Argument) -> ParsedDoc:
    """The argument's docstring constraint, unioned with its enum unless the docs defer to AWS's list."""
    parsed = parse_doc(argument.doc, argument.siblings)
    if not argument.enum_values:
        return parsed
    if _DEFERS.search(" ".join(argument.doc.split())):
        reason = f"the docs defer to AWS for the current set; enum {argument.enum_name} is a convenience list"
        return ParsedDoc(constraint=parsed.constraint, skipped=(*parsed.skipped, (reason, argument.doc.strip())))
    from_enum = Constraint(values=argument.enum_values, from_enum=argument.enum_name)
    return ParsedDoc(constraint=parsed.constraint.union(from_enum), skipped=parsed.skipped)


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class Violation:
    resource_type: str
    resource_name: str
    path: str
    value: Any
    constraint: Constraint

    def __str__(self) -> str:
        said = " | ".join(self.constraint.statements) or f"enum {self.constraint.from_enum}"
        return (
            f"{self.resource_type} {self.resource_name}: {self.path} = {self.value!r} is not a documented value; "
            f"the pulumi-aws docs allow {self.constraint.describe()} (docs: {said!r})"
        )


@dataclass
class Report:
    """What a check saw. ``checked`` counts leaf values whose argument the SDK documents."""

    checked: int = 0
    constrained: int = 0
    not_applicable: int = 0
    violations: list[Violation] = field(default_factory=list)
    constrained_arguments: set[tuple[str, str]] = field(default_factory=set)
    skipped: dict[tuple[str, str], set[tuple[str, str]]] = field(default_factory=dict)
    """(input class, argument) -> {(reason, sentence)} for statements the parser did not trust."""
    unknown: set[tuple[str, str]] = field(default_factory=set)
    """(resource type, path) of inputs with no argument in the SDK class (a typo, or an SDK mismatch)."""


def _allows(constraint: Constraint, value: Any) -> bool | None:
    """True/False when the constraint speaks to this scalar, None when it does not apply to its type."""
    text = _canonical(value)
    if isinstance(value, bool):
        if not constraint.values & {"true", "false"}:
            return None
        return text in constraint.values
    numeric: float | None = None
    if isinstance(value, (int, float)) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value)):
        numeric = float(value)
    verdicts: list[bool] = []
    numeric_values = {v for v in constraint.values if _numeric_value(v)}
    if constraint.values and (isinstance(value, str) or numeric_values):
        verdicts.append(_in_values(text, constraint.values))
    if numeric is not None and (constraint.ranges or constraint.multiples):
        verdicts.append(any(lo <= numeric <= hi for lo, hi in constraint.ranges))
        verdicts.append(any(numeric > 0 and numeric % m == 0 for m in constraint.multiples))
    if isinstance(value, str) and constraint.lengths:
        verdicts.append(any(lo <= len(value) <= hi for lo, hi in constraint.lengths))
    if not verdicts:
        return None
    return any(verdicts)


def _check_value(report: Report, where: tuple[str, str], path: str, argument: Argument, value: Any) -> None:
    parsed = constraint_of(argument)
    key = (argument.owner, argument.python_name)
    if parsed.skipped:
        report.skipped.setdefault(key, set()).update(parsed.skipped)
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, (dict, list)) or item is None:
            continue
        report.checked += 1
        if not parsed.constraint:
            continue
        verdict = _allows(parsed.constraint, item)
        if verdict is None:
            report.not_applicable += 1
            continue
        report.constrained += 1
        report.constrained_arguments.add(key)
        if not verdict:
            report.violations.append(Violation(where[0], where[1], path, item, parsed.constraint))


def _walk(report: Report, where: tuple[str, str], cls: type, inputs: Mapping[str, Any], prefix: str) -> None:
    documented = arguments(cls)
    for key, value in inputs.items():
        path = f"{prefix}{key}"
        argument = documented.get(key)
        if argument is None:
            report.unknown.add((where[0], re.sub(r"\[\d+\]", "[]", path)))
            continue
        if argument.nested is not None:
            elements: Sequence[Any] = value if isinstance(value, list) else [value]
            for i, element in enumerate(elements):
                if isinstance(element, dict):
                    sub = f"{path}[{i}]." if isinstance(value, list) else f"{path}."
                    _walk(report, where, argument.nested, element, sub)
            continue
        if isinstance(value, dict):
            continue  # a map (tags, parameters): no per-key documentation
        _check_value(report, where, path, argument, value)


def check_resource(report: Report, resource_type: str, resource_name: str, inputs: Mapping[str, Any]) -> None:
    """Check one resource's inputs (camelCase keys at every depth, as recorded) into ``report``."""
    _walk(report, (resource_type, resource_name), args_class(resource_type), inputs, "")
