"""Time to result: when each system could be delivered and brought up, then how long it trains.

A faster machine that arrives later can still finish later. For each compared system, from a common start date:

    wait_days   = max(0, available - start)
    result_days = wait_days + bring_up_days + train_days
    finish      = start + result_days

The system with the earliest finish wins; its margin is the next finish minus its own. The break-even date of a
system is the latest availability at which it would still finish no later than every other system:

    win_if_available_by = (earliest finish among the others) - bring_up_days - train_days

(None when that date falls before the start: then it cannot win from this start even if it were there at once).
Availability dates default to the catalog's first volume shipments (catalog/data/availability.yaml, cited), the
bring-up to the catalog's record pace (19 days, NVIDIA on xAI Colossus); both are stated as assumptions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from supercluster.catalog import loader
from supercluster.errors import SuperclusterError

FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_BRING_UP_DAYS = 3650.0
_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def parse_date(text: str, what: str) -> date:
    """YYYY-MM (the first of the month) or YYYY-MM-DD, years 2000-2100."""
    m = _DATE.match(str(text).strip())
    if not m:
        raise SuperclusterError(f"{what}: '{text}' is not a date; write YYYY-MM or YYYY-MM-DD, e.g. 2024-07")
    year, month, day = int(m[1]), int(m[2]), int(m[3] or 1)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise SuperclusterError(f"{what}: year {year} is outside {FIRST_YEAR}-{LAST_YEAR}")
    try:
        return date(year, month, day)
    except ValueError:
        raise SuperclusterError(f"{what}: '{text}' is not a calendar date (month 01-12, a day the month has)") from None


def _pairs(text: str, flag: str, example: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (x.strip() for x in str(text).split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise SuperclusterError(f"{flag}: '{item}' is not key=value; write e.g. {example}")
        if key in out:
            raise SuperclusterError(f"{flag}: '{key}' is given twice")
        out[key] = value
    return out


def parse_available(text: str | Mapping[str, Any]) -> dict[str, date] | None:
    """``h100=2024-07,b200=2025-03`` as {key: date}; ``catalog`` (or an empty mapping) means every date from the
    catalog. Keys are system presets or accelerators (``h100`` for h100-sxm-80gb); matched in ``resolve``."""
    if isinstance(text, Mapping):
        return {str(k): v if isinstance(v, date) else parse_date(v, f"--available {k}") for k, v in text.items()}
    if str(text).strip() == "catalog":
        return {}
    pairs = _pairs(text, "--available", "h100=2024-07,b200=2025-03 (or 'catalog' for the cited defaults)")
    if not pairs:
        raise SuperclusterError("--available is empty; write e.g. h100=2024-07,b200=2025-03, or 'catalog'")
    return {k: parse_date(v, f"--available {k}") for k, v in pairs.items()}


def _days(value: Any, what: str) -> float:
    try:
        days = float(value)
    except (TypeError, ValueError):
        raise SuperclusterError(f"{what}: '{value}' is not a number of days") from None
    if not 0.0 <= days <= MAX_BRING_UP_DAYS:  # also refuses NaN
        raise SuperclusterError(f"{what}: {value} days is outside [0, {MAX_BRING_UP_DAYS:g}]")
    return days


def parse_bring_up(text: str | float | Mapping[str, Any]) -> dict[str, float]:
    """``30`` (every system) or ``h100=19,gb200=60`` as {key: days}; the key ``*`` stands for every system."""
    if isinstance(text, Mapping):
        return {str(k): _days(v, f"--bring-up-days {k}") for k, v in text.items()}
    if isinstance(text, int | float) or "=" not in str(text):
        return {"*": _days(text, "--bring-up-days")}
    pairs = _pairs(str(text), "--bring-up-days", "19 or h100=19,gb200=60")
    return {k: _days(v, f"--bring-up-days {k}") for k, v in pairs.items()}


def matches(key: str, system: str, accelerator: str) -> bool:
    """A key names a system preset, an accelerator id, or an accelerator by its first word (h100 = h100-sxm-80gb)."""
    return key in (system, accelerator) or accelerator.startswith(key + "-")


def _lookup(values: Mapping[str, Any], system: str, accelerator: str) -> tuple[str, Any] | None:
    """The value for a system: its own preset name first, then its accelerator, then the '*' wildcard."""
    if system in values:
        return system, values[system]
    for key, value in values.items():
        if key != "*" and matches(key, system, accelerator):
            return key, value
    if "*" in values:
        return "*", values["*"]
    return None


def _check_keys(values: Mapping[str, Any], systems: list[tuple[str, str]], flag: str) -> None:
    for key in values:
        if key != "*" and not any(matches(key, s, a) for s, a in systems):
            valid = sorted({s for s, _ in systems} | {a for _, a in systems} | {a.split("-")[0] for _, a in systems})
            raise SuperclusterError(f"{flag}: '{key}' names none of the compared systems; valid: {', '.join(valid)}")


def catalog_availability(accelerator: str) -> dict[str, Any] | None:
    """The cited first-volume date of an accelerator (None when the catalog has none)."""
    entry = loader._table("availability")["accelerators"].get(accelerator)
    if entry is None:
        return None
    return {**entry, "available": parse_date(entry["available"], f"catalog availability of {accelerator}")}


def catalog_bring_up() -> dict[str, Any]:
    entry = loader._table("availability")["bring_up"]
    return {"days": _days(entry["days"], "catalog bring-up"), "source": entry["source"]}


@dataclass(frozen=True)
class Entry:
    """One system's inputs: when it could be had, how long to bring it up, how long it trains."""

    system: str
    accelerator: str
    available: date
    available_from: str  # "given (key)" or "catalog"
    bring_up_days: float
    bring_up_from: str
    train_days: float


@dataclass
class Finish:
    system: str
    accelerator: str
    available: date
    available_from: str
    wait_days: float
    bring_up_days: float
    bring_up_from: str
    train_days: float
    result_days: float
    finish: date
    behind_winner_days: float
    win_if_available_by: date | None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("available", "finish", "win_if_available_by"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


@dataclass
class TimeToResult:
    start: date
    start_from: str
    rows: list[Finish]
    assumptions: list[dict[str, str]] = field(default_factory=list)  # what, value, source

    @property
    def winner(self) -> Finish:
        return min(self.rows, key=lambda r: r.result_days)

    @property
    def fastest(self) -> Finish:
        """The system that trains in the fewest days once running."""
        return min(self.rows, key=lambda r: r.train_days)

    @property
    def margin_days(self) -> float:
        """Days between the winner's finish and the next one (0 with one system)."""
        times = sorted(r.result_days for r in self.rows)
        return times[1] - times[0] if len(times) > 1 else 0.0

    def verdict(self) -> str:
        w, f = self.winner, self.fastest
        if len(self.rows) < 2:
            return f"{w.system} finishes {w.finish.isoformat()}"
        line = f"{w.system} finishes first, {w.finish.isoformat()}, {self.margin_days:.1f} days ahead of the next"
        if f.system != w.system:
            by = f.win_if_available_by
            line += (
                f"; {f.system} trains fastest ({f.train_days:.1f} days) but would have had to be available by "
                f"{by.isoformat()} to finish first"
                if by
                else f"; {f.system} trains fastest ({f.train_days:.1f} days) but cannot finish first from this start"
            )
        elif f.win_if_available_by:
            line += f"; it would still finish first if available as late as {f.win_if_available_by.isoformat()}"
        return line

    def to_dict(self) -> dict[str, Any]:
        w, f = self.winner, self.fastest
        return {
            "start": self.start.isoformat(),
            "start_from": self.start_from,
            "winner": w.system,
            "winner_finish": w.finish.isoformat(),
            "margin_days": self.margin_days,
            "fastest_training": f.system,
            "fastest_break_even": f.win_if_available_by.isoformat() if f.win_if_available_by else None,
            "verdict": self.verdict(),
            "rows": [r.to_dict() for r in self.rows],
            "assumptions": list(self.assumptions),
        }


def _at(start: date, days: float) -> date:
    """The calendar day on which ``days`` after the start of ``start`` falls."""
    return (datetime.combine(start, datetime.min.time()) + timedelta(days=days)).date()


def time_to_result(entries: list[Entry], start: date | None = None) -> TimeToResult:
    """Finish dates from a common start (default: the earliest availability); see the module docstring."""
    if not entries:
        raise SuperclusterError("time to result needs at least one system")
    start_from = "given" if start else "earliest availability"
    start = start or min(e.available for e in entries)
    base = []
    for e in entries:
        wait = max(0.0, float((e.available - start).days))
        base.append((e, wait, wait + e.bring_up_days + e.train_days))
    rows = []
    best = min(t for _, _, t in base)
    for i, (e, wait, total) in enumerate(base):
        others = [t for j, (_, _, t) in enumerate(base) if j != i]
        by = None
        if others:
            latest = min(others) - e.bring_up_days - e.train_days  # days after the start
            by = _at(start, latest) if latest >= 0 else None
        rows.append(
            Finish(
                e.system,
                e.accelerator,
                e.available,
                e.available_from,
                wait,
                e.bring_up_days,
                e.bring_up_from,
                e.train_days,
                total,
                _at(start, total),
                total - best,
                by,
            )
        )
    return TimeToResult(start, start_from, rows)


def entries_for(
    systems: list[tuple[str, str, float]],
    available: Mapping[str, date],
    bring_up: Mapping[str, float] | None = None,
) -> tuple[list[Entry], list[dict[str, str]]]:
    """Each (system, accelerator, train_days) with its availability and bring-up: the user's where given, else the
    catalog's; and what was filled from the catalog (what, value, source: the assumptions to print)."""
    pairs = [(s, a) for s, a, _ in systems]
    _check_keys(available, pairs, "--available")
    _check_keys(bring_up or {}, pairs, "--bring-up-days")
    default = catalog_bring_up()
    out, filled = [], []
    for system, accelerator, train_days in systems:
        given = _lookup(available, system, accelerator)
        if given:
            when, when_from = given[1], f"given ({given[0]})"
        else:
            cat = catalog_availability(accelerator)
            if cat is None:
                raise SuperclusterError(
                    f"--available: no date for {system} ({accelerator}) and the catalog has none; give one, e.g. "
                    f"{accelerator.split('-')[0]}=2025-06"
                )
            when, when_from = cat["available"], "catalog"
            filled.append(
                {
                    "what": f"{system} available",
                    "value": f"{when.isoformat()}, first volume shipments of {accelerator} "
                    f"(+-{cat['uncertainty_months']} months)",
                    "source": cat["source"],
                }
            )
        up = _lookup(bring_up or {}, system, accelerator)
        if up:
            days, days_from = float(up[1]), f"given ({up[0]})"
        else:
            days, days_from = default["days"], "catalog"
        out.append(Entry(system, accelerator, when, when_from, days, days_from, train_days))
    if any(e.bring_up_from == "catalog" for e in out):
        filled.append(
            {
                "what": "bring-up",
                "value": f"{default['days']:g} days from delivery to training, every system (assumption)",
                "source": default["source"],
            }
        )
    return out, filled
