#!/usr/bin/env python3
"""Checks the external-trainer protocol's files against its JSON Schemas (test-only).

    check_trainer_protocol.py ROOT FEDSIM OUT

Checks docs/external-trainer/{request,result}.schema.json are valid JSON Schemas (2020-12), runs
FEDSIM on Tests/Fixtures/external/external.json (copied with builtin.json into OUT, exchange files
kept there), and validates every request.json fedsim wrote and every result.json fedsim-train
wrote (the deliberately garbled ones of the fixture's --fail garbage client excepted) against
them, and the run's summary.json (with its external_trainer keys) against
docs/schemas/summary.schema.json. Exits 1 on any failure.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

try:
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover
    sys.exit("check_trainer_protocol.py: needs the python3-jsonschema package")


def main():
    root, fedsim, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    schemas = {}
    for name in ("request", "result"):
        schema = json.loads((root / "docs/external-trainer" / f"{name}.schema.json").read_text())
        Draft202012Validator.check_schema(schema)
        schemas[name] = Draft202012Validator(schema)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for f in ("builtin.json", "external.json"):
        shutil.copy(root / "Tests/Fixtures/external" / f, out / f)
    (out / "exchange").mkdir()
    run = subprocess.run([fedsim, "run", str(out / "external.json"), "--out", str(out / "run")], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"check_trainer_protocol.py: fedsim run failed ({run.returncode}): {run.stderr[-2000:]}")
    counts = {"request": 0, "result": 0}
    failures = []
    for path in sorted((out / "exchange").rglob("*.json")):
        kind = "request" if path.name == "request.json" else "result" if path.name == "result.json" else None
        if kind is None:
            continue
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError:
            if kind == "result" and "/client-2/" in str(path):
                continue  # the fixture's garbage injection
            failures.append(f"{path}: not JSON")
            continue
        errors = sorted(schemas[kind].iter_errors(document), key=lambda e: list(e.path))
        if errors:
            failures.append(f"{path}: {errors[0].message}")
        counts[kind] += 1
    summary = json.loads((out / "run/summary.json").read_text())
    failed = sum(a.get("failed", 0) for s in summary["runs"] for a in s["arms"]) if "runs" in summary else None
    # The run's summary.json, with its external_trainer keys, against docs/schemas/summary.schema.json (docs/OUTPUTS.md).
    summary_schema = json.loads((root / "docs/schemas/summary.schema.json").read_text())
    Draft202012Validator.check_schema(summary_schema)
    for e in sorted(Draft202012Validator(summary_schema).iter_errors(summary), key=lambda e: list(map(str, e.path)))[:5]:
        failures.append(f"{out / 'run/summary.json'}: {'/'.join(map(str, e.path))}: {e.message[:300]}")
    if not any("external_trainer" in a for s in summary.get("runs", []) for a in s.get("arms", [])):
        failures.append(f"{out / 'run/summary.json'}: no arm has external_trainer")
    for line in failures[:20]:
        print(line)
    if failures or counts["request"] < 10 or counts["result"] < 10:
        sys.exit(f"check_trainer_protocol.py: {len(failures)} file(s) fail the schemas ({counts['request']} requests, {counts['result']} results checked)")
    print(f"check_trainer_protocol.py: {counts['request']} requests and {counts['result']} results match docs/external-trainer/*.schema.json"
          + (f"; {failed} failed participants" if failed is not None else "") + "; its summary.json matches docs/schemas/summary.schema.json")


main()
