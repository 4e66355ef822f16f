#!/usr/bin/env python3
"""Checks scenario files against Scenarios/schema.json (JSON Schema 2020-12).

Test-only; needs python3 and python3-jsonschema (apt-get install python3-jsonschema).

    check_schema.py [ROOT]
        Checks the schema itself, then validates every *.json under ROOT/Scenarios except
        schema.json and the files under Scenarios/distributions/ (single distributions) and
        Scenarios/invalid/ (the bad-input corpus). Prints one line per file and exits 1 if any
        file fails.

    check_schema.py [ROOT] --expect-invalid DIR
        Checks that every *.json under DIR FAILS validation (DIR relative to the current folder,
        or else to ROOT). Prints one line per file and exits 1 if any passes wrongly.

ROOT is the repository root; default: two levels above this script.
"""

import argparse
import json
import sys
from pathlib import Path

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover
    sys.exit("check_schema.py: needs the python3-jsonschema package (apt-get install python3-jsonschema)")

EXCLUDED_FOLDERS = ("distributions", "invalid", "sweeps")  # sweeps: sweep files, not scenarios


def json_path(parts):
    """A JSON path such as $.network.mix[1].profile."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier() or part.replace("-", "_").isidentifier():
            text += "." + part
        else:
            text += "[" + json.dumps(part, ensure_ascii=False) + "]"
    return text


def short(value, limit=80):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Explainer:
    """Turns a validation error into readable lines, following the branch of a oneOf/anyOf
    that fits the value (the right JSON type and, for distributions, the right "dist")."""

    def __init__(self, schema):
        self.schema = schema

    def resolve(self, schema):
        while isinstance(schema, dict) and "$ref" in schema and "description" not in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                break
            target = self.schema
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = target
        return schema if isinstance(schema, dict) else {}

    @classmethod
    def mismatch(cls, sub, parent):
        """Why `sub` shows that its branch is not meant for this value: "type" (another JSON
        type), "dist" (another distribution family) or None."""
        depth = len(parent.absolute_path)
        relative = list(sub.absolute_path)[depth:]
        if not relative and sub.validator == "type":
            return "type"
        if relative == ["dist"] and sub.validator in ("const", "enum"):
            return "dist"
        if not relative and sub.validator in ("oneOf", "anyOf") and sub.context:
            reasons = [cls.branch_mismatch(subs, sub) for subs in cls.branches(sub).values()]
            if all(reasons):
                return "type" if all(r == "type" for r in reasons) else "dist"
        return None

    @classmethod
    def branch_mismatch(cls, subs, parent):
        reasons = [cls.mismatch(s, parent) for s in subs]
        return "type" if "type" in reasons else ("dist" if "dist" in reasons else None)

    @staticmethod
    def branches(error):
        grouped = {}
        for sub in error.context:
            grouped.setdefault(sub.relative_schema_path[0], []).append(sub)
        return grouped

    def lines(self, error, description=None):
        path = json_path(error.absolute_path)
        own = self.resolve(error.schema).get("description") if isinstance(error.schema, dict) else None
        description = own or description
        if error.validator in ("oneOf", "anyOf") and error.context:
            reasons = {i: self.branch_mismatch(subs, error) for i, subs in self.branches(error).items()}
            fitting = {i: subs for i, subs in self.branches(error).items() if reasons[i] is None}
            if not fitting:
                if all(r == "dist" for r in reasons.values()):
                    return []  # an unknown family: the "dist" enum error next to this one says it
                # Nothing fits: follow the branch for the right JSON type (e.g. an unknown family).
                fitting = {i: subs for i, subs in self.branches(error).items() if reasons[i] != "type"}
            if len(fitting) == 1:
                (index, subs), = fitting.items()
                alternatives = error.schema.get(error.validator, []) if isinstance(error.schema, dict) else []
                branch = self.resolve(alternatives[index]) if index < len(alternatives) else {}
                inner = branch.get("description") or description
                return [line for sub in subs for line in self.lines(sub, inner)]
            return [f"{path}: {short(error.instance)} does not match the expected form: {(description or error.message).rstrip('.')}"]
        if error.validator in ("pattern", "not", "if", "then"):
            return [f"{path}: {short(error.instance)} does not match the expected form: {(description or error.message).rstrip('.')}"]
        message = error.message
        if len(message) > 300:
            message = message[:299] + "…"
        return [f"{path}: {message}"]


def errors_of(validator, path):
    """The list of error lines for one file (empty when it is valid)."""
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, UnicodeDecodeError) as e:
        return [f"cannot read: {e}"]
    except json.JSONDecodeError as e:
        return [f"not JSON: {e}"]
    explainer = Explainer(validator.schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    lines = [line for e in errors for line in explainer.lines(e)]
    return lines or [f"{json_path(e.absolute_path)}: {e.message}" for e in errors]


def scenario_files(scenarios):
    files = []
    for path in sorted(scenarios.rglob("*.json")):
        relative = path.relative_to(scenarios)
        if relative == Path("schema.json"):
            continue
        if relative.parts and relative.parts[0] in EXCLUDED_FOLDERS:
            continue
        if path.is_file():
            files.append(path)
    return files


def main(argv):
    default_root = Path(__file__).resolve().parent.parent.parent
    parser = argparse.ArgumentParser(description="Validate FedSim scenario files against Scenarios/schema.json.")
    parser.add_argument("root", nargs="?", default=str(default_root),
                        help="repository root (default: two levels above this script)")
    parser.add_argument("--expect-invalid", metavar="DIR",
                        help="check instead that every *.json under DIR fails validation")
    args = parser.parse_args(argv)

    root = Path(args.root)
    scenarios = root / "Scenarios"
    schema_path = scenarios / "schema.json"
    try:
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
    except (OSError, json.JSONDecodeError) as e:
        print(f"FAIL {schema_path}: {e}")
        return 1
    except jsonschema.exceptions.SchemaError as e:
        print(f"FAIL {schema_path}: not a valid 2020-12 schema: {json_path(e.absolute_path)}: {e.message}")
        return 1
    validator = Draft202012Validator(schema)

    def shown(path):
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)

    if args.expect_invalid is not None:
        folder = Path(args.expect_invalid)
        if not folder.is_absolute() and not folder.is_dir():
            folder = root / folder
        if not folder.is_dir():
            print(f"FAIL {args.expect_invalid}: no such folder")
            return 1
        files = sorted(p for p in folder.rglob("*.json") if p.is_file())
        wrong = 0
        for path in files:
            errors = errors_of(validator, path)
            if errors:
                print(f"ok   {shown(path)}: rejected: {errors[0]}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""))
            else:
                wrong += 1
                print(f"FAIL {shown(path)}: passes the schema but should not")
        print(f"{len(files) - wrong} of {len(files)} invalid file(s) rejected")
        return 1 if wrong else 0

    files = scenario_files(scenarios)
    failed = 0
    for path in files:
        errors = errors_of(validator, path)
        if errors:
            failed += 1
            print(f"FAIL {shown(path)}: " + "; ".join(errors))
        else:
            print(f"ok   {shown(path)}")
    print(f"{len(files) - failed} of {len(files)} scenario file(s) valid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
