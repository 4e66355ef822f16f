#!/usr/bin/env python3
"""Generates Scenarios/schema.json (test-only tool): python3 Tests/Scenarios/generate_schema.py Scenarios/schema.json.
Keep it in step with Sources/Scenario/ScenarioParser.swift and docs/SCENARIOS.md."""
import json, sys

def ci(s):
    """Case-insensitive regex for a literal made of letters, '/' kept literal."""
    out = ""
    for c in s:
        out += f"[{c.upper()}{c.lower()}]" if c.isalpha() else c
    return out

NUM_SIGNED = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
NUM_NONNEG = r"\+?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
NUM_POS = r"\+?(?:\d*[1-9]\d*\.?\d*|\d*\.\d*[1-9]\d*)(?:[eE][+-]?\d+)?"

UNITS = {
    # Case-sensitive: "MB" megabytes, "Mb"/"MBps"/"mbps" are rejected (docs/DISTRIBUTIONS.md).
    "rate": "(?:[TGMkK]?bps|[TGMkK]?B/s)",
    "duration": "(?:ns|us|\u00b5s|ms|min|s|h|d)",
    "bytes": "(?:[TGMK]iB|[TGMkK]?B)",
    "flop-rate": "(?:[PTGMk]?FLOPS)",
    "flops": "(?:[PTGMk]?FLOP)",
    "plain": "%",
}
UNITS["any"] = "(?:" + "|".join(UNITS[k] for k in ["rate", "duration", "bytes", "flop-rate", "flops", "plain"]) + ")"

def pattern(num, unit):
    return r"^\s*" + num + r"\s*" + unit + r"\s*$"

UNIT_TEXT = {
    "rate": "bps, kbps, Mbps, Gbps, Tbps (bit/s) or B/s, kB/s, MB/s, GB/s, TB/s (bytes per second, ×8); case-sensitive",
    "duration": "ns, us, µs, ms, s, min, h, d (case-sensitive)",
    "bytes": "B, kB/KB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024); case-sensitive",
    "flop-rate": "FLOPS, kFLOPS, MFLOPS, GFLOPS, TFLOPS, PFLOPS; case-sensitive",
    "flops": "FLOP, kFLOP, MFLOP, GFLOP, TFLOP, PFLOP; case-sensitive",
    "plain": "a percentage such as \"8%\" = 0.08",
}
BASE = {"rate": "bit/s", "duration": "seconds", "bytes": "bytes", "flop-rate": "FLOP/s", "flops": "FLOP", "plain": "a plain number"}
EXAMPLE = {"rate": ["10Mbps", "1.5Gbps", "12MB/s"], "duration": ["80ms", "15min", "24h"], "bytes": ["16MB", "4.2MiB"],
           "flop-rate": ["30TFLOPS"], "flops": ["2TFLOP"], "plain": ["8%"]}

defs = {}

def quantity_def(dim, sign):
    """A quantity of one dimension: a number in the base unit or a string with a unit."""
    num, minimum = {"signed": (NUM_SIGNED, {}), "nonneg": (NUM_NONNEG, {"minimum": 0}),
                    "positive": (NUM_POS, {"exclusiveMinimum": 0})}[sign]
    what = {"signed": "", "nonneg": " that is ≥ 0", "positive": " that is > 0"}[sign]
    if dim == "any":
        desc = (f"A quantity{what}: a bare number in the base unit of its dimension (bit/s, s, B, FLOP/s, FLOP, plain) "
                "or a string with a unit, e.g. \"10Mbps\", \"80ms\", \"16MB\", \"30TFLOPS\", \"8%\".")
        examples = ["10Mbps", "80ms", "16MB", "30TFLOPS", 0.01]
    elif dim == "plain":
        desc = f"A plain number{what}, or a percentage string (\"8%\" = 0.08)."
        examples = [0.08, "8%"]
    else:
        # A scenario key never implies a unit: a quantity with units is a string with its unit.
        desc = (f"A {dim} quantity{what}: a string with a unit ({UNIT_TEXT[dim]}); a bare number is rejected.")
        return {"description": desc, "examples": EXAMPLE[dim], "type": "string", "pattern": pattern(num, UNITS[dim])}
    return {
        "description": desc,
        "examples": examples,
        "anyOf": [
            dict({"type": "number"}, **minimum),
            {"type": "string", "pattern": pattern(num, UNITS[dim])},
        ],
    }

for dim in ["rate", "duration", "bytes", "flop-rate", "flops", "plain", "any"]:
    suffix = "" if dim == "any" else "-" + dim
    defs[f"quantity{suffix}"] = quantity_def(dim, "signed")
    defs[f"quantity{suffix}-nonneg"] = quantity_def(dim, "nonneg")
    defs[f"quantity{suffix}-positive"] = quantity_def(dim, "positive")

# Fractions (plain quantities with a range), as numbers or percentages.
PCT_LT100 = r"(?:\d{1,2}(?:\.\d*)?|\.\d+)"          # [0, 100)
PCT_LE100 = r"(?:\d{1,2}(?:\.\d*)?|\.\d+|100(?:\.0*)?)"  # [0, 100]
NOT_ZERO_PCT = r"(?!0*(?:\.0*)?\s*%)"
def pct(body, positive=False):
    return r"^\s*\+?" + (NOT_ZERO_PCT if positive else "") + body + r"\s*%\s*$"

defs["loss-value"] = {
    "description": "A loss probability in [0, 1): a number, or a percentage below 100% (\"0.1%\").",
    "anyOf": [{"type": "number", "minimum": 0, "exclusiveMaximum": 1},
              {"type": "string", "pattern": pct(PCT_LT100)}],
}
defs["loss-nonneg"] = {
    "description": "A loss-rate parameter in [0, 1]: a number, or a percentage up to 100%.",
    "anyOf": [{"type": "number", "minimum": 0, "maximum": 1},
              {"type": "string", "pattern": pct(PCT_LE100)}],
}
defs["loss-positive"] = {
    "description": "A loss-rate parameter in (0, 1]: a number, or a percentage in (0%, 100%].",
    "anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": 1},
              {"type": "string", "pattern": pct(PCT_LE100, positive=True)}],
}
# Scalar settings outside distributions are plain JSON numbers (no percentage strings).
defs["fraction-0-1-open"] = {"type": "number", "minimum": 0, "exclusiveMaximum": 1,
                             "description": "A plain number in [0, 1)."}
defs["fraction-positive-1"] = {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                               "description": "A plain number in (0, 1]."}

defs["lognormal-forms"] = {
    "description": "The accepted parameter sets of a lognormal: median + p90 (+ p10 for the two-piece form), median + sigma, or mu + sigma.",
    "oneOf": [
        {"title": "median + p90 (+ optional p10)", "required": ["median", "p90"],
         "not": {"anyOf": [{"required": ["sigma"]}, {"required": ["mu"]}]}},
        {"title": "median + sigma", "required": ["median", "sigma"],
         "not": {"anyOf": [{"required": ["p90"]}, {"required": ["p10"]}, {"required": ["mu"]}]}},
        {"title": "mu + sigma", "required": ["mu", "sigma"],
         "not": {"anyOf": [{"required": ["median"]}, {"required": ["p90"]}, {"required": ["p10"]}]}},
    ],
}
defs["empirical-forms"] = {
    "description": "An empirical distribution has exactly one of values / trace, and no weights with method \"interpolate\".",
    "oneOf": [{"title": "values", "required": ["values"], "not": {"required": ["trace"]}},
              {"title": "trace", "required": ["trace"], "not": {"required": ["values"]}}],
    "if": {"required": ["method"], "properties": {"method": {"const": "interpolate"}}},
    "then": {"not": {"required": ["weights"]}},
}

# ---- distributions, one set per dimension ----
# Parameter kinds: const (a bare constant / empirical value), signed, low (min-like), upper (max-like), pos.
DIMS = {
    "any": dict(title="any dimension", const="quantity", signed="quantity", low="quantity", upper="quantity",
                pos="quantity-positive", note="All quantities of one distribution must share one dimension (not checked by this schema)."),
    "rate": dict(title="bit rate", const="quantity-rate-positive", signed="quantity-rate", low="quantity-rate-nonneg",
                 upper="quantity-rate-positive", pos="quantity-rate-positive",
                 note="Values are bit rates (\"10Mbps\" or bit/s); every value must be positive (truncate a normal with min, or use lognormal)."),
    "duration": dict(title="duration", const="quantity-duration-positive", signed="quantity-duration",
                     low="quantity-duration-nonneg", upper="quantity-duration-positive", pos="quantity-duration-positive",
                     note="Values are durations (\"80ms\" or seconds); every value must be positive."),
    "flop-rate": dict(title="FLOP/s", const="quantity-flop-rate-positive", signed="quantity-flop-rate",
                      low="quantity-flop-rate-nonneg", upper="quantity-flop-rate-positive", pos="quantity-flop-rate-positive",
                      note="Values are compute speeds (\"30TFLOPS\" or FLOP/s); every value must be positive."),
    "count": dict(title="positive plain number", const="quantity-plain-positive", signed="quantity-plain",
                  low="quantity-plain-nonneg", upper="quantity-plain-positive", pos="quantity-plain-positive",
                  note="Values are plain positive numbers (e.g. local samples per client)."),
    "loss": dict(title="loss rate", const="loss-value", signed="quantity-plain", low="loss-nonneg",
                 upper="loss-positive", pos="loss-positive",
                 note="Values are packet-loss probabilities: plain numbers or percentages; the distribution must sit in [0, 1)."),
}

def ref(name):
    return {"$ref": f"#/$defs/{name}"}

def with_desc(name, desc):
    return {"$ref": f"#/$defs/{name}", "description": desc}

def families(dim):
    """(family key, dist name, description, properties, required, extra schema keywords)."""
    k = DIMS[dim]
    num_pos = {"type": "number", "exclusiveMinimum": 0}
    fams = []
    fams.append(("constant", "constant", "A constant: {\"dist\": \"constant\", \"value\": Q}.",
                 {"value": with_desc(k["const"], "The constant value.")}, ["value"], {}))
    fams.append(("uniform", "uniform", "Uniform on [min, max]; max must be greater than min.",
                 {"min": with_desc(k["low"], "Lower end."), "max": with_desc(k["upper"], "Upper end (> min).")},
                 ["min", "max"], {}))
    fams.append(("normal", "normal", "Normal with mean and standard deviation sd; truncated to [min, max] when min and/or max are given.",
                 {"mean": with_desc(k["signed"], "Mean (before truncation)."),
                  "sd": with_desc(k["pos"], "Standard deviation (> 0)."),
                  "min": with_desc(k["low"], "Optional lower truncation point."),
                  "max": with_desc(k["upper"], "Optional upper truncation point (> min).")},
                 ["mean", "sd"], {}))
    fams.append(("lognormal", "lognormal",
                 "Lognormal, given as median + p90, median + sigma, mu + sigma, or (two-piece, its own spread each side) p10 + median + p90. "
                 "p90 must exceed the median, p10 must be below it.",
                 {"median": with_desc(k["pos"], "Median (> 0)."),
                  "p90": with_desc(k["pos"], "90th percentile (> median)."),
                  "p10": with_desc(k["pos"], "10th percentile (< median); only together with median and p90 (two-piece lognormal)."),
                  "sigma": dict(num_pos, description="σ of the underlying normal (a plain number > 0)."),
                  "mu": {"type": "number", "description": "μ: the natural log of the median in the base unit (a plain number)."}},
                 [], {"$ref": "#/$defs/lognormal-forms"}))
    for fam, formula in [("gamma", "mean = shape·scale"), ("weibull", "P(X > x) = exp(−(x/scale)^shape)"),
                         ("pareto", "P(X > x) = (scale/x)^shape for x ≥ scale")]:
        fams.append((fam, fam, f"{fam.capitalize()} with a plain shape and a scale quantity; {formula}.",
                     {"shape": dict(num_pos, description="Shape (a plain number > 0)."),
                      "scale": with_desc(k["pos"], "Scale (> 0).")}, ["shape", "scale"], {}))
    fams.append(("exponential", "exponential", "Exponential with the given mean.",
                 {"mean": with_desc(k["pos"], "Mean (> 0).")}, ["mean"], {}))
    fams.append(("empirical", "empirical",
                 "Empirical: a list of values (optionally weighted) or a CSV trace column, either resampled or interpolated (inverse CDF). "
                 "Exactly one of values / trace; no weights with method \"interpolate\".",
                 {"values": {"type": "array", "minItems": 1, "items": ref(k["const"]), "description": "The observed values (at least one)."},
                  "weights": {"type": "array", "minItems": 1, "items": dict(num_pos),
                              "description": "Optional positive weights, one per value (resample only)."},
                  "method": {"enum": ["resample", "interpolate"], "default": "resample",
                             "description": "\"resample\" (default) draws the given values; \"interpolate\" draws from the piecewise-linear CDF."},
                  "trace": ref(f"trace-{dim}")},
                 [], {"$ref": "#/$defs/empirical-forms"}))
    fams.append(("mixture", "mixture", "A weighted mixture; each component is {\"weight\": w, <a distribution's keys>}. A component is first chosen by weight.",
                 {"components": {"type": "array", "minItems": 1, "items": ref(f"component-{dim}"),
                                 "description": "At least one component: {\"weight\": w > 0, \"dist\": …, …}."}},
                 ["components"], {}))
    return fams

def family_object(dim, fam, dist, desc, props, required, extra, component):
    properties = {"dist": {"const": dist, "description": f"The family: \"{dist}\"."}}
    if component:
        properties["weight"] = {"type": "number", "exclusiveMinimum": 0, "description": "The component's weight (> 0); weights need not sum to 1."}
    if component:
        # Compact: the parameters are described on the top-level family objects (dist-…).
        props = {key: {k: v for k, v in value.items() if k != "description"} for key, value in props.items()}
        desc = f"A \"{dist}\" component (see $defs/dist-{dim}-{fam} for its parameters)." if dim != "any" else f"A \"{dist}\" component (see $defs/dist-{fam})."
    properties.update(props)
    obj = {"title": dist, "description": desc, "type": "object", "properties": properties,
           "required": (["weight"] if component else []) + ["dist"] + required, "additionalProperties": False}
    obj.update(extra)
    return obj

for dim, k in DIMS.items():
    suffix = "" if dim == "any" else "-" + dim
    fams = families(dim)
    objects, components = [], []
    for fam, dist, desc, props, required, extra in fams:
        fam_name = f"dist{suffix}-{fam}"
        defs[fam_name] = family_object(dim, fam, dist, desc, props, required, extra, component=False)
        objects.append(ref(fam_name))
        components.append(family_object(dim, fam, dist, desc, props, required, extra, component=True))
    fam_names = ", ".join(f[1] for f in fams)
    defs[f"distribution{suffix}-object"] = {
        "description": f"A distribution object ({k['title']}): {{\"dist\": family, …}} with family one of {fam_names}. {k['note']}",
        "type": "object",
        "required": ["dist"],
        "properties": {"dist": {"enum": [f[1] for f in fams], "description": "The distribution family."}},
        "oneOf": objects,
    }
    defs[f"distribution{suffix}"] = {
        "description": (f"A distribution ({k['title']}): a constant quantity, or a distribution object {{\"dist\": …}} "
                        f"(see docs/DISTRIBUTIONS.md). {k['note']}"),
        "anyOf": [ref(k["const"]), ref(f"distribution{suffix}-object")],
    }
    defs[f"component-{dim}"] = {
        "description": f"A mixture component ({k['title']}): {{\"weight\": w, \"dist\": …, <that family's keys>}}.",
        "type": "object",
        "required": ["weight", "dist"],
        "properties": {"dist": {"enum": [f[1] for f in fams]}},
        "oneOf": components,
    }
    plain_one = r"|1" if dim in ("any", "count", "loss") else ""
    unit_pattern = r"^\s*(?:" + UNITS["any" if dim in ("any",) else ("plain" if dim in ("count", "loss") else dim)] + plain_one + r")\s*$"
    defs[f"trace-{dim}"] = {
        "description": ("A CSV trace column: {\"file\": path relative to the file naming it, \"column\": header name or 0-based index, "
                        "\"unit\": the unit of the column's bare numbers (required; \"1\" for plain numbers)}."),
        "type": "object",
        "required": ["file", "column", "unit"],
        "additionalProperties": False,
        "properties": {
            "file": {"type": "string", "minLength": 1, "description": "CSV file, relative to the file that names it."},
            "column": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0}],
                       "description": "A column name from the header row, or a 0-based column index."},
            "unit": {"type": "string", "pattern": unit_pattern,
                     "description": "Required: the unit of the column's bare numbers, e.g. \"Mbps\", \"ms\" (case-sensitive), or \"1\" for plain numbers."},
        },
    }

# ---- scenario parts ----
defs["link"] = {
    "description": "The per-client link distributions: down, up and rtt are required together; loss is optional (default 0).",
    "type": "object",
    "properties": {
        "down": with_desc("distribution-rate", "Downlink (server → client) rate per client: a bit-rate distribution, e.g. \"20Mbps\"."),
        "up": with_desc("distribution-rate", "Uplink (client → server) rate per client: a bit-rate distribution, e.g. \"2Mbps\"."),
        "rtt": with_desc("distribution-duration", "Round-trip time per client: a duration distribution, e.g. \"40ms\"."),
        "loss": with_desc("distribution-loss", "Packet-loss rate per client, in [0, 1): a number, a percentage or a distribution; default 0."),
    },
}
defs["profile-name"] = {
    "type": "string", "minLength": 1,
    "description": ("A network profile: built-in 3g, 4g, 5g, home-broadband, fiber, wifi, starlink, geo-satellite, web-mix "
                    "(see `fedsim profiles`), or one defined under network.profiles."),
    "examples": ["web-mix", "4g", "5g", "3g", "home-broadband", "fiber", "wifi", "starlink", "geo-satellite"],
}
defs["mix-member"] = {
    "description": "One weighted member of a mix: {\"weight\": w > 0, \"profile\": name}.",
    "type": "object",
    "required": ["weight", "profile"],
    "additionalProperties": False,
    "properties": {
        "weight": {"type": "number", "exclusiveMinimum": 0, "description": "Relative weight (> 0); weights are normalised."},
        "profile": ref("profile-name"),
    },
}
defs["mix"] = {
    "description": "A weighted mix of profiles; each client draws a member by weight, then all four link attributes from it.",
    "type": "array", "minItems": 1, "items": ref("mix-member"),
}
BUILT_IN = ["3g", "4g", "5g", "home-broadband", "fiber", "wifi", "starlink", "geo-satellite", "web-mix"]
defs["profile-definition"] = {
    "description": ("A user-defined network profile: the link distributions down, up, rtt (required) and loss "
                    "(optional, default 0), plus an optional one-line summary and sources."),
    "type": "object",
    "additionalProperties": False,
    "required": ["down", "up", "rtt"],
    "properties": dict(defs["link"]["properties"], **{
        "summary": {"type": "string", "description": "One line: what access network this is (default \"user-defined\")."},
        "sources": {"type": "array", "items": {"type": "string"},
                    "description": "Where the figures come from, and which are assumptions (default [\"defined in the scenario\"])."},
    }),
}
INLINE = [{"required": ["down"]}, {"required": ["up"]}, {"required": ["rtt"]}, {"required": ["loss"]}]
defs["network"] = {
    "description": ("The clients' access networks: a \"profile\" (default \"web-mix\"), or a \"mix\" of profiles, "
                    "or inline distributions \"down\", \"up\", \"rtt\" (+ optional \"loss\") — exactly one of these forms."),
    "type": "object",
    "additionalProperties": False,
    "properties": dict({
        "profile": dict(ref("profile-name"), default="web-mix"),
        "mix": ref("mix"),
    }, **defs["link"]["properties"], **{
        "profiles": {
            "type": "object",
            "description": "Optional user-defined profiles, by name, usable in \"profile\" and \"mix\".",
            "propertyNames": {"minLength": 1, "not": {"enum": BUILT_IN},
                              "description": "A new profile name; the built-in names cannot be redefined."},
            "additionalProperties": ref("profile-definition"),
        },
        "model": {"enum": ["tcp", "fluid"], "default": "tcp",
                  "description": ("Transfer model: \"tcp\" (default: connection set-up, slow start, then the rate limited by link, loss "
                                  "and the fair share of the server link) or \"fluid\" (RTT/2 + bytes / rate; see docs/NETWORK-MODEL.md).")},
        "keep_connections": {"type": "boolean", "default": True,
                             "description": "Default true: connection set-up (handshake + TLS) only on a client's first transfer."},
    }),
    "oneOf": [
        {"title": "profile (or the default web-mix)",
         "not": {"anyOf": [{"required": ["mix"]}] + INLINE}},
        {"title": "mix", "required": ["mix"], "not": {"anyOf": [{"required": ["profile"]}] + INLINE}},
        {"title": "inline down/up/rtt (+ loss)", "required": ["down", "up", "rtt"],
         "not": {"anyOf": [{"required": ["profile"]}, {"required": ["mix"]}]}},
    ],
}
defs["population"] = {
    "description": "The client population.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "clients": {"type": "integer", "minimum": 1, "maximum": 10_000_000, "default": 100,
                    "description": "Number of clients, 1 … 10,000,000; default 100."},
        "samples": with_desc("distribution-count",
                             "Local training samples per client (a plain positive distribution); default {\"dist\": \"lognormal\", \"median\": 600, \"p90\": 2000}."),
        "device_speed": with_desc("distribution-flop-rate",
                                  "Client compute speed (FLOP/s distribution); default {\"dist\": \"lognormal\", \"median\": \"30TFLOPS\", \"p90\": \"120TFLOPS\"}."),
    },
}
defs["server"] = {
    "description": "The aggregation server.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "down": dict(ref("quantity-rate-positive"), default="10Gbps",
                     description="Egress capacity shared by all downloads (a bit rate > 0); default 10Gbps."),
        "up": dict(ref("quantity-rate-positive"), default="10Gbps",
                   description="Ingress capacity shared by all uploads (a bit rate > 0); default 10Gbps."),
        "aggregation": dict(ref("quantity-duration-nonneg"), default="0s",
                            description="Server time to aggregate and re-encode (a duration ≥ 0); default 0s."),
    },
}
defs["diurnal"] = {
    "description": "Daily modulation of availability: {\"amplitude\": 0.6, \"period\": \"24h\", \"peak\": \"20h\"}.",
    "type": "object",
    "additionalProperties": False,
    "required": ["amplitude"],
    "properties": {
        "amplitude": dict(ref("fraction-0-1-open"), description="Relative amplitude of the modulation, in [0, 1)."),
        "period": dict(ref("quantity-duration-positive"), default="24h", description="Period of the cycle (a duration > 0); default 24h."),
        "peak": dict(ref("quantity-duration"), default="20h", description="Time within the period at which availability peaks; default 20h."),
    },
}
defs["availability"] = {
    "description": "When clients are reachable: a per-round dropout probability and/or on/off sessions.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "dropout_per_round": dict(ref("fraction-0-1-open"), default=0,
                                  description="Probability that a selected client drops during a round, in [0, 1); default 0."),
        "sessions": {
            "description": "Alternating online/offline sessions per client: {\"online\": D, \"offline\": D, \"diurnal\"?: {…}}.",
            "type": "object",
            "additionalProperties": False,
            "required": ["online", "offline"],
            "properties": {
                "online": with_desc("distribution-duration", "Length of an online session (duration distribution)."),
                "offline": with_desc("distribution-duration", "Length of an offline gap (duration distribution)."),
                "diurnal": ref("diurnal"),
            },
        },
    },
}
defs["selection"] = {
    "description": "Client selection per round.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "per_round": {"type": "integer", "minimum": 1, "maximum": 10_000_000, "default": 10,
                      "description": "K: the number of uploads the server waits for, at most population.clients; default 10 (or all clients if fewer)."},
        "over_selection": {"type": "number", "minimum": 0, "maximum": 100, "default": 0.3,
                           "description": "Select ceil(K·(1 + over_selection)) clients and keep the first K uploads; 0 … 100, default 0.3."},
        "deadline": dict(ref("quantity-duration-positive"),
                         description="The round closes at this deadline if K uploads have not arrived (a duration > 0); default none."),
        "min_completions": {"type": "integer", "minimum": 1, "default": 1,
                            "description": "With fewer arrivals than this by the deadline the round fails (no update); 1 … per_round, default 1."},
    },
}
defs["payload"] = {
    "description": "The LoRA adapter exchanged each round (required).",
    "type": "object",
    "additionalProperties": False,
    "required": ["model", "rank", "targets"],
    "properties": {
        "model": {"type": "string", "minLength": 1,
                  "examples": ["llama-2-7b", "llama-3-8b", "mistral-7b", "qwen2.5-7b", "qwen2.5-0.5b", "gpt2"],
                  "description": ("Base model from the model catalogue (`fedsim codec --catalog`): gpt2, qwen2.5-0.5b, qwen2.5-7b, "
                                  "llama-2-7b, llama-3-8b, mistral-7b; case-insensitive, Hugging Face ids and aliases accepted.")},
        "rank": {"type": "integer", "minimum": 1, "description": "LoRA rank r, 1 … the model's hidden size."},
        "targets": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string", "minLength": 1},
                    "examples": [["q", "v"], ["q", "k", "v", "o"]],
                    "description": "Adapted modules, e.g. [\"q\", \"v\"] or [\"q_proj\", \"v_proj\"] (at least one, no module twice)."},
        "values": dict(ref("value-type"), description="How adapter values travel: f32 (default), f16 or bf16; the arms' default."),
    },
}
defs["value-type"] = {"enum": ["f32", "f16", "bf16"], "description": "Value encoding on the wire: f32, f16 or bf16."}
defs["workload"] = {
    "description": "What is trained and exchanged (required, for its payload).",
    "type": "object",
    "additionalProperties": False,
    "required": ["payload"],
    "properties": {
        "payload": {"oneOf": [ref("payload"), {"const": "measured", "description": "The proxy's real encoded messages (needs train)."}],
                    "description": "A catalogue model's LoRA payload, or \"measured\" (the proxy's real messages; needs train)."},
        "train": ref("train"),
        "compute": {
            "description": "Local training cost: FLOPs = samples·tokens_per_sample·epochs·(4·N_base + 6·N_lora).",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "tokens_per_sample": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 512,
                                      "description": "Tokens per training sample, 1 … 1,000,000; default 512."},
                "epochs": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1,
                           "description": "Local epochs per round, 1 … 10,000; default 1."},
            },
        },
    },
}
defs["train"] = {
    "description": "Real training of the proxy model (docs/LEARNING.md): a frozen pretrained MLP with LoRA on every layer.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "dataset": {"oneOf": [
            {"const": "fashion-mnist", "description": "Debian's dataset-fashion-mnist (default)."},
            {"type": "object", "additionalProperties": False, "required": ["synthetic"],
             "properties": {"synthetic": {"type": "object", "additionalProperties": False, "properties": {
                 "classes": {"type": "integer", "minimum": 2, "maximum": 1000},
                 "dimension": {"type": "integer", "minimum": 1, "maximum": 100000},
                 "train": {"type": "integer", "minimum": 1},
                 "test": {"type": "integer", "minimum": 1}}}}}],
            "description": "\"fashion-mnist\" (default) or {\"synthetic\": {classes, dimension, train, test}}."},
        "data": {"type": "string", "minLength": 1, "description": "Folder with the four Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist); relative to the scenario file."},
        "partition": {"oneOf": [
            {"const": "iid"},
            {"type": "object", "additionalProperties": False, "required": ["dirichlet"], "properties": {"dirichlet": {"type": "number", "exclusiveMinimum": 0}}},
            {"type": "object", "additionalProperties": False, "required": ["shards"], "properties": {"shards": {"type": "integer", "minimum": 1, "maximum": 1000}}}],
            "description": "\"iid\", {\"dirichlet\": β > 0} (default 0.5) or {\"shards\": n}."},
        "hidden": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 100000}, "description": "Hidden layer widths (default [256, 128])."},
        "pretrain": {"type": "object", "additionalProperties": False, "properties": {
            "classes": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}},
            "epochs": {"type": "integer", "minimum": 0, "maximum": 1000},
            "learning_rate": {"type": "number", "exclusiveMinimum": 0},
            "seed": {"type": "integer", "minimum": 0, "maximum": 9007199254740991}},
            "description": "Pretraining of the frozen base: the classes it sees (default the first 70%), epochs (3), learning rate (0.05), seed (1)."},
        "lora": {"type": "object", "additionalProperties": False, "properties": {
            "rank": {"type": "integer", "minimum": 1}, "alpha": {"type": "number", "exclusiveMinimum": 0}},
            "description": "LoRA on every linear layer: rank (default 8, at most the narrowest input/hidden width), alpha (default 2·rank)."},
        "local": {"type": "object", "additionalProperties": False, "properties": {
            "epochs": {"type": "integer", "minimum": 1, "maximum": 1000},
            "batch": {"type": "integer", "minimum": 1},
            "optimizer": {"enum": ["adam", "sgd"]},
            "learning_rate": {"type": "number", "exclusiveMinimum": 0},
            "momentum": {"type": "number", "minimum": 0, "exclusiveMaximum": 1}},
            "description": "Local training: epochs (1), batch (32), optimizer adam (lr 0.001) or sgd (lr 0.05, momentum 0.9)."},
        "evaluate_every": {"type": "integer", "minimum": 1, "description": "Rounds between test-set evaluations (default 1)."},
        "test_samples": {"type": "integer", "minimum": 1, "description": "Test samples used (default: all)."},
    },
}
defs["arm"] = {
    "description": "One arm of the experiment: a codec and its options.",
    "type": "object",
    "additionalProperties": False,
    "required": ["codec"],
    "properties": {
        "codec": {"enum": ["lora", "fedsrd", "fedsrd-e", "topk", "ffa-lora"], "description": "The update codec."},
        "name": {"type": "string", "pattern": "^[\\w.+-]+$",
                 "description": "Label used in reports, CSV rows and plots: letters, digits and . _ - + (default: the codec name); arm names must be unique."},
        "sparsity": dict(ref("fraction-0-1-open"), description="α: target upload sparsity (fraction of entries dropped), in [0, 1)."),
        "adaptive": {"type": "boolean", "description": "Per-matrix sparsity from the kurtosis rule (true) or ρ = α everywhere (false)."},
        "download_sparsity": dict(ref("fraction-0-1-open"), description="Target broadcast sparsity, in [0, 1); default: sparsity."),
        "iterations": {"type": "integer", "minimum": 1, "maximum": 100, "description": "J: FedSRD decomposition alternations (1 … 100)."},
        "values": dict(ref("value-type"), description="How this arm's values travel: f32, f16 or bf16."),
        "residual": {"type": "boolean", "description": "Client-side error feedback: what an upload dropped is added to the client's next delta."},
        "history_rounds": {"type": "integer", "minimum": 0, "maximum": 1000,
                           "description": "How many past broadcasts the server keeps for stale clients' catch-up, 0 … 1000 (default 8)."},
    },
}
defs["target"] = {
    "description": "The accuracy target (with training): {\"accuracy\": a} or {\"fraction_of_best\": f}, not both; default fraction_of_best 0.95.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "accuracy": dict(ref("fraction-positive-1"), description="Absolute accuracy target, in (0, 1]."),
        "fraction_of_best": dict(ref("fraction-positive-1"), description="Target as a fraction of the best arm's final accuracy, in (0, 1]."),
    },
    "oneOf": [{"required": ["accuracy"], "not": {"required": ["fraction_of_best"]}},
              {"required": ["fraction_of_best"], "not": {"required": ["accuracy"]}}],
}
defs["stop"] = {
    "description": "When the simulation stops: after rounds or simulated time, whichever comes first; default {\"rounds\": 100}.",
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["rounds"]}, {"required": ["time"]}],
    "properties": {
        "rounds": {"type": "integer", "minimum": 1, "maximum": 10_000_000, "description": "Maximum number of rounds, 1 … 10,000,000."},
        "time": dict(ref("quantity-duration-positive"), description="Maximum simulated time (a duration > 0), e.g. \"48h\"."),
    },
}

schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "FedSim scenario",
    "description": ("One JSON object describing a whole FedSim experiment (docs/SCENARIOS.md). Every key except \"name\" "
                    "(and workload.payload) has a default; unknown keys are errors. `fedsim validate FILE` prints it with defaults filled in."),
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "workload"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "description": "Required: a non-empty label used in reports."},
        "description": {"type": "string", "description": "Optional free text describing the scenario."},
        "seed": {"type": "integer", "minimum": 0, "maximum": 9007199254740991, "default": 1,
                 "description": "An integer in 0 … 2^53 − 1 (what a JSON number holds exactly); default 1; every random stream derives from it."},
        "population": ref("population"),
        "network": ref("network"),
        "server": ref("server"),
        "availability": ref("availability"),
        "selection": ref("selection"),
        "workload": ref("workload"),
        "arms": {"type": "array", "minItems": 1, "items": ref("arm"),
                 "default": [{"codec": "lora"}, {"codec": "fedsrd"}],
                 "description": "The codecs compared; default [{\"codec\": \"lora\"}, {\"codec\": \"fedsrd\"}]."},
        "target": ref("target"),
        "stop": dict(ref("stop"), default={"rounds": 100}),
    },
    "$defs": defs,
}

def compact(value, indent=0, width=110):
    """Pretty JSON that keeps small objects and arrays on one line."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) + indent <= width or not isinstance(value, (dict, list)) or not value:
        return flat
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {compact(v, indent + 2, width)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + compact(v, indent + 2, width) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"

out = sys.argv[1]
with open(out, "w", encoding="utf-8") as f:
    f.write(compact(schema) + "\n")
