#!/usr/bin/env python3
"""Checks committed run and sweep outputs against docs/schemas/ and docs/OUTPUTS.md (test-only).

Needs python3 and python3-jsonschema (apt-get install python3-jsonschema).

    check_outputs.py [ROOT] [--summary FILE ...] [--resolved]
        Checks docs/schemas/{summary,point}.schema.json are valid JSON Schemas (2020-12), then
        validates every Reports/*/summary.json and Reports/sweeps/*/points/*/summary.json against
        summary.schema.json, every Reports/sweeps/*/points/*/point.json against
        point.schema.json, and the header and every field of each committed rounds.csv,
        clients.csv and sweep.csv against the column tables of docs/OUTPUTS.md. --summary adds
        more summary.json files (e.g. a fresh run's). --resolved also validates each summary's
        resolved_scenario against Scenarios/schema.json (off by default: the resolved form writes
        dimensionless quantities as strings, e.g. population.samples' "median": "600", which
        fedsim reads back but the schema does not accept). Quiet on success except one line;
        exits 1 and prints what failed otherwise.

ROOT is the repository root; default: two levels above this script.
"""

import argparse
import csv
import json
import math
import re
import sys
from pathlib import Path

try:
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover
    sys.exit("check_outputs.py: needs the python3-jsonschema package (apt-get install python3-jsonschema)")


def json_path(parts):
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def schema_errors(validator, document, limit=5):
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{json_path(e.absolute_path)}: {e.message[:300]}" for e in errors[:limit]]


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def validator_of(path):
    schema = load_json(path)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# The CSV column tables of docs/OUTPUTS.md: a "### `NAME.csv`" heading, then a Markdown table whose
# first two cells are `column` and type. Types: integer, number, text, 0 or 1, one of `a`, `b`, …;
# "or empty" admits an empty field; "may be absent" a file without the column.
def column_tables(outputs_md):
    tables = {}
    current = None
    for line in outputs_md.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^###\s+`([a-z]+\.csv)`", line)
        if heading:
            current = heading.group(1)
            tables[current] = []
            continue
        if line.startswith("#"):
            current = None
            continue
        if current is None or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("column", "") or set(cells[0]) <= set("-: "):
            continue
        name = re.fullmatch(r"`([^`]+)`", cells[0])
        if name is None:
            raise ValueError(f"{outputs_md}: table of {current}: a column cell that is not `code`: {cells[0]}")
        tables[current].append((name.group(1), cells[1]))
    return tables


def field_check(type_text):
    """A function field -> problem (None when the field fits the documented type)."""
    empty_ok = "or empty" in type_text
    base = type_text.replace("may be absent", "").replace("or empty", "").strip().rstrip(",;").strip()
    choices = re.findall(r"`([^`]+)`", base) if base.startswith("one of") else None

    def check(field):
        if field == "":
            return None if empty_ok or base == "text" else "empty"
        if choices is not None:
            return None if field in choices else f"not one of {', '.join(choices)}"
        if base == "text":
            return None
        if base == "0 or 1":
            return None if field in ("0", "1") else "not 0 or 1"
        if base == "integer":
            if re.fullmatch(r"-?[0-9]+", field):
                return None
            try:
                value = float(field)  # a count beyond 10^15 is written as a number (1e+15)
            except ValueError:
                return "not an integer"
            return None if math.isfinite(value) and value == int(value) else "not an integer"
        if base == "number":
            try:
                value = float(field)
            except ValueError:
                return "not a number"
            return None if math.isfinite(value) else "not finite"
        return f"undocumented type '{type_text}'"

    return check


def check_csv(path, columns, problems):
    """columns: [(name, type)] in file order ("<axes>" stands for any number of axis columns)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        problems.append(f"{path}: empty")
        return 0
    header = rows[0]
    if columns and columns[1][0] == "<axes>":
        fixed_head, fixed_tail = columns[:1], columns[2:]
        axes = len(header) - len(fixed_head) - len(fixed_tail)
        expected = fixed_head + [(name, "text") for name in header[1:1 + max(axes, 0)]] + fixed_tail
    else:
        expected = columns
    # A column documented as "may be absent" (added after files were written) may be missing.
    present = [(name, t) for name, t in expected if name in header or "may be absent" not in t]
    if header != [name for name, _ in present]:
        wanted = [name for name, _ in present]
        missing = [n for n in wanted if n not in header]
        unknown = [n for n in header if n not in wanted]
        detail = (f"missing {', '.join(missing)}" if missing else "") + ("; " if missing and unknown else "") \
            + (f"undocumented {', '.join(unknown)}" if unknown else "") or "columns in another order"
        problems.append(f"{path}: header does not match docs/OUTPUTS.md: {detail}")
        return 0
    expected = present
    checks = [field_check(t) for _, t in expected]
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            problems.append(f"{path}: line {number}: {len(row)} fields, the header has {len(header)}")
            return 0
        for (name, type_text), check, field in zip(expected, checks, row):
            problem = check(field)
            if problem:
                problems.append(f"{path}: line {number}, column {name} ({type_text}): '{field[:40]}' {problem}")
                return 0
    return len(rows) - 1


def main(argv):
    parser = argparse.ArgumentParser(description="Validate committed FedSim outputs against docs/schemas/ and docs/OUTPUTS.md.")
    parser.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parent.parent.parent))
    parser.add_argument("--summary", action="append", default=[], metavar="FILE", help="another summary.json to validate")
    parser.add_argument("--resolved", action="store_true", help="also validate resolved_scenario against Scenarios/schema.json")
    args = parser.parse_args(argv)
    root = Path(args.root)
    problems = []

    try:
        summary_v = validator_of(root / "docs/schemas/summary.schema.json")
        point_v = validator_of(root / "docs/schemas/point.schema.json")
        scenario_v = validator_of(root / "Scenarios/schema.json")
        tables = column_tables(root / "docs/OUTPUTS.md")
    except Exception as e:  # noqa: BLE001 - any failure to load the references is a failed check
        print(f"check_outputs.py: cannot load the schemas or docs/OUTPUTS.md: {e}")
        return 1
    for name in ("rounds.csv", "clients.csv", "sweep.csv"):
        if not tables.get(name):
            problems.append(f"docs/OUTPUTS.md: no column table for {name}")

    def shown(path):
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            return str(path)

    reports = root / "Reports"
    summaries = sorted(reports.glob("*/summary.json")) + sorted(reports.glob("sweeps/*/points/*/summary.json"))
    summaries += [Path(p) for p in args.summary]
    points = sorted(reports.glob("sweeps/*/points/*/point.json"))
    for path in summaries:
        try:
            document = load_json(path)
        except (OSError, ValueError) as e:
            problems.append(f"{shown(path)}: cannot read: {e}")
            continue
        problems += [f"{shown(path)}: {line}" for line in schema_errors(summary_v, document)]
        if args.resolved and isinstance(document, dict) and isinstance(document.get("resolved_scenario"), dict):
            problems += [f"{shown(path)}: resolved_scenario: {line}" for line in schema_errors(scenario_v, document["resolved_scenario"])]
    for path in points:
        try:
            document = load_json(path)
        except (OSError, ValueError) as e:
            problems.append(f"{shown(path)}: cannot read: {e}")
            continue
        problems += [f"{shown(path)}: {line}" for line in schema_errors(point_v, document)]
        # The folder ends in the point's content key.
        if isinstance(document, dict) and not path.parent.name.endswith("-" + str(document.get("key"))):
            problems.append(f"{shown(path)}: key {document.get('key')!r} is not the end of its folder's name")
    csv_files = 0
    csv_rows = 0
    if all(tables.get(n) for n in ("rounds.csv", "clients.csv", "sweep.csv")):
        for name, pattern in (("rounds.csv", "*/rounds.csv"), ("rounds.csv", "sweeps/*/points/*/rounds.csv"),
                              ("clients.csv", "*/clients.csv"), ("sweep.csv", "sweeps/*/sweep.csv")):
            for path in sorted(reports.glob(pattern)):
                before = len(problems)
                rows = check_csv(path, tables[name], problems)
                problems[before:] = [p.replace(str(path), shown(path)) for p in problems[before:]]
                csv_files += 1
                csv_rows += rows

    if problems:
        for line in problems[:40]:
            print(line)
        if len(problems) > 40:
            print(f"… and {len(problems) - 40} more")
        print(f"check_outputs.py: {len(problems)} problem(s)")
        return 1
    print(f"check_outputs.py: {len(summaries)} summary.json and {len(points)} point.json match docs/schemas/, "
          f"{csv_files} CSV files ({csv_rows} rows) match docs/OUTPUTS.md's columns")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
