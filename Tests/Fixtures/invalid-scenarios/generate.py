#!/usr/bin/env python3
"""Writes the bad-input corpus: one scenario per file, each a valid base with one thing wrong,
and expected.json (file -> the key path and a fragment the error message must contain).
Run from anywhere; rewrites the *.json files next to it. Test-only."""
import copy, json, os

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = {
    "name": "bad",
    "population": {"clients": 50},
    "network": {"profile": "4g"},
    "selection": {"per_round": 10, "over_selection": 0.3, "deadline": "10min"},
    "workload": {"payload": {"model": "llama-2-7b", "rank": 16, "targets": ["q", "v"]}},
    "arms": [{"codec": "lora"}, {"codec": "fedsrd", "sparsity": 0.9}],
    "stop": {"rounds": 5},
}

def put(doc, path, value):
    keys = path.split(".")
    for k in keys[:-1]:
        doc = doc[int(k)] if isinstance(doc, list) else doc.setdefault(k, {})
    last = keys[-1]
    if value is DELETE:
        del doc[last]
    elif isinstance(doc, list):
        doc[int(last)] = value
    else:
        doc[last] = value

DELETE = object()
CASES = [
    # name, edits [(path, value)], key path, message fragment
    ("unknown-top-key", [("seeed", 3)], "(top level)", "unknown key 'seeed' (did you mean 'seed'?)"),
    ("unknown-nested-key", [("selection.per_rond", 3)], "selection", "unknown key 'per_rond' (did you mean 'per_round'?)"),
    ("missing-name", [("name", DELETE)], "(top level)", "missing key 'name'"),
    ("name-wrong-type", [("name", 7)], "name", "expected a string, found 7"),
    ("clients-not-integer", [("population.clients", 10.5)], "population.clients", "a number of clients"),
    ("clients-string", [("population.clients", "many")], "population.clients", "a number of clients"),
    ("seed-negative", [("seed", -1)], "seed", "an integer seed in 0…9007199254740991"),
    ("unknown-profile", [("network.profile", "4G-lte")], "network.profile", "unknown network profile '4G-lte'"),
    ("profile-typo-suggests", [("network.profile", "fibre")], "network.profile", "did you mean 'fiber'?"),
    ("mix-weight-zero", [("network.profile", DELETE), ("network.mix", [{"weight": 0, "profile": "4g"}])], "network.mix[0].weight", "a positive weight"),
    ("mix-unknown-profile", [("network.profile", DELETE), ("network.mix", [{"weight": 1, "profile": "6g"}])], "network.mix[0].profile", "unknown network profile '6g'"),
    ("profile-and-inline-up", [("network.up", "5Mbps")], "network", "found 'profile' and 'inline up'"),
    ("profile-and-mix", [("network.mix", [{"weight": 1, "profile": "5g"}])], "network", "one of 'profile', 'mix'"),
    ("inline-negative-rate", [("network.profile", DELETE), ("network.down", "-5Mbps"), ("network.up", "1Mbps"), ("network.rtt", "50ms")], "network.down", "all positive"),
    ("inline-zero-rate", [("network.profile", DELETE), ("network.down", "10Mbps"), ("network.up", "0Mbps"), ("network.rtt", "50ms")], "network.up", "all positive"),
    ("inline-missing-rtt", [("network.profile", DELETE), ("network.down", "10Mbps"), ("network.up", "1Mbps")], "network", "missing key 'rtt'"),
    ("loss-above-one", [("network.profile", DELETE), ("network.down", "10Mbps"), ("network.up", "1Mbps"), ("network.rtt", "50ms"), ("network.loss", 1.5)], "network.loss", "a loss rate in [0, 1)"),
    ("loss-exactly-one", [("network.profile", DELETE), ("network.down", "10Mbps"), ("network.up", "1Mbps"), ("network.rtt", "50ms"), ("network.loss", 1)], "network.loss", "a loss rate in [0, 1)"),
    ("rate-wrong-unit", [("network.profile", DELETE), ("network.down", "10ms"), ("network.up", "1Mbps"), ("network.rtt", "50ms")], "network.down", "bit-rate"),
    ("unknown-transfer-model", [("network.model", "tcpp")], "network.model", "unknown transfer model 'tcpp' (did you mean 'tcp'?)"),
    ("user-profile-shadows-builtin", [("network.profiles", {"4g": {"down": "1Mbps", "up": "1Mbps", "rtt": "1ms"}})], "network.profiles.4g", "not a built-in profile's"),
    ("server-rate-zero", [("server", {"up": "0Gbps"})], "server.up", "a positive rate"),
    ("server-rate-negative", [("server", {"down": "-1Gbps"})], "server.down", "a positive rate"),
    ("over-selection-negative", [("selection.over_selection", -0.1)], "selection.over_selection", "an over-selection fraction ≥ 0"),
    ("deadline-zero", [("selection.deadline", "0s")], "selection.deadline", "a positive deadline"),
    ("deadline-negative", [("selection.deadline", "-5s")], "selection.deadline", "a positive deadline"),
    ("k-above-population", [("selection.per_round", 80)], "selection.per_round", "at most the population's 50 clients"),
    ("min-completions-above-k", [("selection.min_completions", 11)], "selection.min_completions", "1…10"),
    ("dropout-one", [("availability", {"dropout_per_round": 1.0})], "availability.dropout_per_round", "a probability in [0, 1)"),
    ("dropout-negative", [("availability", {"dropout_per_round": -0.1})], "availability.dropout_per_round", "a probability in [0, 1)"),
    ("sessions-missing-offline", [("availability", {"sessions": {"online": "30min"}})], "availability.sessions", "missing key 'offline'"),
    # issue 14: time zones, participation windows, FedScale behaviour traces.
    ("time-zone-offset-too-large", [("availability", {"time_zones": [{"utc_offset": "15h", "weight": 1}], "window": {"local": ["00:00-06:00"]}})], "availability.time_zones[0].utc_offset", "a UTC offset in -14h … 14h"),
    ("time-zone-bare-offset", [("availability", {"time_zones": [{"utc_offset": -5, "weight": 1}], "window": {"local": ["00:00-06:00"]}})], "availability.time_zones[0].utc_offset", "a duration with a unit"),
    ("time-zone-weight-zero", [("availability", {"time_zones": [{"utc_offset": "-5h", "weight": 0}], "window": {"local": ["00:00-06:00"]}})], "availability.time_zones[0].weight", "a weight > 0"),
    ("time-zone-unknown-preset", [("availability", {"time_zones": "world-populaton", "window": {"local": ["00:00-06:00"]}})], "availability.time_zones", "did you mean 'world-population'"),
    ("time-zones-without-local-time", [("availability", {"time_zones": "world-population"})], "availability.time_zones", "a 'window' or 'sessions.diurnal'"),
    ("window-bad-interval", [("availability", {"window": {"local": ["25:00-06:00"]}})], "availability.window.local[0]", "\"HH:MM-HH:MM\" with times in 00:00 … 24:00"),
    ("window-no-dash", [("availability", {"window": {"local": ["00:00 to 06:00"]}})], "availability.window.local[0]", "a local-time interval \"HH:MM-HH:MM\""),
    ("window-empty-interval", [("availability", {"window": {"local": ["06:00-06:00"]}})], "availability.window.local[0]", "an interval of positive length"),
    ("window-conditions-23-hours", [("availability", {"window": {"conditions": [0.5] * 23}})], "availability.window.conditions", "24 of them (one per local hour"),
    ("window-conditions-above-one", [("availability", {"window": {"conditions": 1.5}})], "availability.window.conditions", "a probability in [0, 1]"),
    ("window-unknown-key", [("availability", {"window": {"local": ["00:00-06:00"], "charging": 0.5}})], "availability.window", "unknown key 'charging'"),
    ("fedscale-hostile-pickle", [("availability", {"fedscale": {"behaviour": "../fedscale/hostile-reduce.pkl"}})], "availability.fedscale.behaviour", "opcode STACK_GLOBAL (imports a Python object) refused"),
    ("fedscale-truncated-pickle", [("availability", {"fedscale": {"behaviour": "../fedscale/truncated.pkl"}})], "availability.fedscale.behaviour", "truncated"),
    ("fedscale-device-trace-as-behaviour", [("availability", {"fedscale": {"behaviour": "../fedscale/client_device_capacity"}})], "availability.fedscale.behaviour", "client '1': expected 'finish_time' as seconds > 0"),
    ("fedscale-missing-file", [("availability", {"fedscale": {"behaviour": "../fedscale/no-such-trace"}})], "availability.fedscale.behaviour", "no such file"),
    ("fedscale-with-sessions", [("availability", {"sessions": {"online": "1h", "offline": "1h"}, "fedscale": {"behaviour": "../fedscale/client_behave_trace"}})], "availability.fedscale", "either 'sessions' or 'fedscale'"),
    ("unknown-codec", [("arms.1.codec", "fedsdr")], "arms[1].codec", "unknown codec 'fedsdr' (did you mean 'fedsrd'?)"),
    ("sparsity-one", [("arms.1.sparsity", 1)], "arms[1].sparsity", "a sparsity α in [0, 1)"),
    ("history-rounds-zero", [("arms.1.history_rounds", 0)], "arms[1].history_rounds", "a number of rounds in 1…1000"),
    ("history-rounds-fraction", [("arms.1.history_rounds", 2.5)], "arms[1].history_rounds", "a number of rounds in 1…1000"),
    ("arm-unknown-option", [("arms.1.sparsty", 0.5)], "arms[1]", "unknown key 'sparsty' (did you mean 'sparsity'?)"),
    ("duplicate-arm-names", [("arms", [{"codec": "lora"}, {"codec": "lora"}])], "arms[1]", "unique"),
    ("empty-arms", [("arms", [])], "arms", "a non-empty array of arms {\"codec\": …}, found an empty array"),
    ("arm-name-with-comma", [("arms.1.name", "fedsrd,0.9")], "arms[1].name", "a name of letters, digits"),
    ("unknown-model", [("workload.payload.model", "llama-9-7b")], "workload.payload.model", "unknown"),
    ("rank-zero", [("workload.payload.rank", 0)], "workload.payload.rank", "a LoRA rank in 1…4096"),
    ("unknown-target", [("workload.payload.targets", ["q", "x_proj"])], "workload.payload.targets[1]", "x_proj"),
    ("missing-payload", [("workload.payload", DELETE)], "workload", "missing key 'payload'"),
    ("bad-value-type", [("workload.payload.values", "fp8")], "workload.payload.values", "unknown value type 'fp8'"),
    ("target-above-one", [("target", {"accuracy": 1.2})], "target.accuracy", "an accuracy in (0, 1]"),
    ("stop-rounds-zero", [("stop.rounds", 0)], "stop.rounds", "a positive number of rounds"),
    ("bad-distribution-family", [("population.samples", {"dist": "lognorm", "median": 100, "p90": 300})], "population.samples.dist", "did you mean 'lognormal'?"),
    ("p90-below-median", [("population.device_speed", {"dist": "lognormal", "median": "30TFLOPS", "p90": "10TFLOPS"})], "population.device_speed.p90", "p90 greater than median"),
    ("mixture-weight-negative", [("population.samples", {"dist": "mixture", "components": [{"weight": -1, "dist": "constant", "value": 5}]})], "population.samples.components[0].weight", "a positive weight"),
    ("beta-zero", [("workload.train", {"partition": {"dirichlet": 0}})], "workload.train.partition.dirichlet", "a concentration β > 0"),
    ("beta-negative", [("workload.train", {"partition": {"dirichlet": -0.5}})], "workload.train.partition.dirichlet", "a concentration β > 0"),
    ("train-rank-zero", [("workload.train", {"lora": {"rank": 0}})], "workload.train.lora.rank", "a LoRA rank in 1…128"),
    ("train-rank-above-width", [("workload.train", {"lora": {"rank": 300}})], "workload.train.lora.rank", "a LoRA rank in 1…128 (the narrowest of the input and hidden layers)"),
    ("learning-rate-zero", [("workload.train", {"local": {"learning_rate": 0}})], "workload.train.local.learning_rate", "a learning rate > 0"),
    ("unknown-optimizer", [("workload.train", {"local": {"optimizer": "adamw"}})], "workload.train.local.optimizer", "unknown optimizer 'adamw' (did you mean 'adam'?)"),
    ("unknown-dataset", [("workload.train", {"dataset": "cifar10"})], "workload.train.dataset", "unknown dataset 'cifar10'"),
    # issue 15: the transformer workload.
    ("transformer-unknown-domain", [("workload.train", {"model": {"transformer": {"layers": 1, "width": 32, "heads": 2, "context": 16}}, "dataset": {"text": {"domains": ["de", "klingon"]}}})], "workload.train.dataset.text.domains[1]", "a fortunes domain"),
    ("transformer-width-not-divisible", [("workload.train", {"model": {"transformer": {"width": 30, "heads": 4}}, "dataset": {"text": {}}})], "workload.train.model.transformer.width", "divisible"),
    ("transformer-rank-too-large", [("workload.train", {"model": {"transformer": {"layers": 1, "width": 32, "heads": 2, "context": 16}}, "dataset": {"text": {}}, "lora": {"rank": 64}})], "workload.train.lora.rank", "a rank from 1 to 32"),
    ("transformer-hidden-key", [("workload.train", {"model": {"transformer": {"layers": 1, "width": 32, "heads": 2, "context": 16}}, "dataset": {"text": {}}, "hidden": [8]})], "workload.train.hidden", "no 'hidden' with the transformer model"),
    ("transformer-missing-dataset", [("workload.train", {"model": {"transformer": {"layers": 1, "width": 32, "heads": 2, "context": 16}}})], "workload.train", "missing key 'dataset'"),
    ("transformer-unknown-target", [("workload.train", {"model": {"transformer": {"layers": 1, "width": 32, "heads": 2, "context": 16}}, "dataset": {"text": {}}, "lora": {"targets": ["q", "qq"]}})], "workload.train.lora.targets[1]", "qq"),
    ("target-zero", [("target", {"accuracy": 0})], "target.accuracy", "an accuracy in (0, 1]"),
    # issue 15: loss and perplexity targets.
    ("target-unknown-metric", [("target", {"metric": "lose", "value": 2.5})], "target.metric", "unknown target metric 'lose' (did you mean 'loss'?)"),
    ("target-metric-accuracy-above-one", [("target", {"metric": "accuracy", "value": 1.5})], "target.value", "an accuracy in (0, 1]"),
    ("target-loss-zero", [("target", {"metric": "loss", "value": 0})], "target.value", "a loss > 0"),
    ("target-loss-negative", [("target", {"metric": "loss", "value": -1})], "target.value", "a loss > 0"),
    ("target-perplexity-below-one", [("target", {"metric": "perplexity", "value": 0.5})], "target.value", "a perplexity ≥ 1"),
    ("target-value-and-fraction", [("target", {"metric": "loss", "value": 2.5, "fraction_of_best": 0.9})], "target", "either 'value' or 'fraction_of_best', not both"),
    ("target-accuracy-with-metric", [("target", {"accuracy": 0.5, "metric": "loss"})], "target", "not 'accuracy' with 'metric'"),
    ("target-metric-without-level", [("target", {"metric": "perplexity"})], "target", "'value' or 'fraction_of_best' with 'metric'"),
    ("target-loss-fraction-above-one", [("target", {"metric": "loss", "fraction_of_best": 1.5})], "target.fraction_of_best", "a fraction in (0, 1]"),
    ("measured-without-training", [("workload.payload", "measured")], "workload.payload", "needs workload.train"),
    ("trace-missing", [("network.profile", DELETE), ("network.down", {"dist": "empirical", "trace": {"file": "no-such-trace.csv", "column": "down", "unit": "Mbps"}}), ("network.up", "1Mbps"), ("network.rtt", "50ms")], "network.down.trace", "no-such-trace.csv"),
    ("trace-empty", [("network.profile", DELETE), ("network.down", {"dist": "empirical", "trace": {"file": "traces/empty.csv", "column": "down", "unit": "Mbps"}}), ("network.up", "1Mbps"), ("network.rtt", "50ms")], "network.down.trace", "empty.csv"),
    # issue 9: exact integers, strict units, traces need a unit, wrong types, short messages.
    ("seed-2-pow-63", [("seed", 9223372036854775808)], "seed", "an integer seed in 0…9007199254740991"),
    ("seed-2-pow-53", [("seed", 9007199254740992)], "seed", "an integer seed in 0…9007199254740991"),
    ("seed-huge", [("seed", 1e300)], "seed", "an integer seed"),
    ("pretrain-seed-2-pow-64", [("workload.train", {"pretrain": {"seed": 18446744073709551616}})], "workload.train.pretrain.seed", "an integer seed in 0…9007199254740991"),
    ("clients-huge", [("population.clients", 1e30)], "population.clients", "a number of clients"),
    ("rounds-2-pow-63", [("stop.rounds", 9223372036854775807)], "stop.rounds", "a positive number of rounds"),
    ("rate-MBps", [None, ("network.down", "10MBps")], "network.down", "did you mean 'MB/s' (bit-rate)"),
    ("rate-lowercase", [None, ("network.down", "10mbps")], "network.down", "did you mean 'Mbps' (bit-rate)"),
    ("server-rate-megabit-bytes", [("server", {"up": "10Mb"})], "server.up", "did you mean 'Mbps' (bit-rate)"),
    ("deadline-wrong-case", [("selection.deadline", "10MIN")], "selection.deadline", "did you mean 'min' (duration)"),
    ("deadline-Ms", [("selection.deadline", "600Ms")], "selection.deadline", "ns, us, µs, ms, s, min, h, d; case-sensitive"),
    ("deadline-bare-number", [("selection.deadline", 600)], "selection.deadline", "a duration with a unit"),
    ("deadline-unitless-string", [("selection.deadline", "600")], "selection.deadline", "a duration with a unit"),
    ("stop-time-bare-number", [("stop.time", 86400)], "stop.time", "a duration with a unit"),
    ("server-rate-bare-number", [("server", {"down": 1e9})], "server.down", "a bit-rate with a unit"),
    ("aggregation-bare-number", [("server", {"aggregation": 2})], "server.aggregation", "a duration with a unit"),
    ("rtt-bare-number", [("network.profile", DELETE), ("network.down", "10Mbps"), ("network.up", "1Mbps"), ("network.rtt", 0.05)], "network.rtt", "a duration with a unit"),
    ("rtt-distribution-bare-number", [("network.profile", DELETE), ("network.down", "10Mbps"), ("network.up", "1Mbps"), ("network.rtt", {"dist": "uniform", "min": "10ms", "max": 0.05})], "network.rtt.max", "a duration with a unit"),
    ("device-speed-bare-values", [("population.device_speed", {"dist": "empirical", "values": [1e12, 2e12]})], "population.device_speed.values[0]", "a flop-rate with a unit"),
    ("session-bare-number", [("availability", {"sessions": {"online": 3600, "offline": "1h"}})], "availability.sessions.online", "a duration with a unit"),
    ("trace-without-unit", [None, ("network.down", {"dist": "empirical", "trace": {"file": "traces/down.csv", "column": "down"}})], "network.down.trace", "the unit of the trace's numbers"),
    ("trace-unit-wrong-case", [None, ("network.down", {"dist": "empirical", "trace": {"file": "traces/down.csv", "column": "down", "unit": "mbps"}})], "network.down.trace.unit", "did you mean 'Mbps'"),
    ("trace-unit-wrong-dimension", [None, ("network.down", {"dist": "empirical", "trace": {"file": "traces/down.csv", "column": "down", "unit": "ms"}})], "network.down.trace.unit", "a bit-rate unit"),
    ("trace-is-directory", [None, ("network.down", {"dist": "empirical", "trace": {"file": "traces", "column": "down", "unit": "Mbps"}})], "network.down.trace", "is a directory"),
    ("description-object", [("description", {"text": "hello"})], "description", "expected a string, found an object"),
    ("description-number", [("description", 3)], "description", "expected a string, found 3"),
    ("long-unknown-key", [("k" * 5000, 1)], "(top level)", "unknown key '" + "k" * 200 + "…'"),
    ("long-profile-name", [("network.profile", "p" * 5000)], "network.profile", "unknown network profile '" + "p" * 200 + "…'"),
    ("trace-non-numeric", [("network.profile", DELETE), ("network.down", {"dist": "empirical", "trace": {"file": "traces/non-numeric.csv", "column": "down", "unit": "Mbps"}}), ("network.up", "1Mbps"), ("network.rtt", "50ms")], "network.down.trace", "line 3"),
    # issue 14: time-varying links ({"trace": …} without "dist"): units and a time column are mandatory.
    ("tv-trace-without-units", [None, ("network.down", {"trace": "time-traces/tv-no-units.csv", "column": "down"})], "network.down.trace", "line 1, column 'down': expected a header naming the column's bit-rate unit"),
    ("tv-trace-without-time-unit", [None, ("network.down", {"trace": "time-traces/tv-no-units.csv", "column": "down", "unit": "Mbps"})], "network.down.trace", "line 1, column 'time': expected a header naming the column's duration unit"),
    ("tv-trace-without-time-column", [None, ("network.down", {"trace": "time-traces/tv-no-time.csv", "column": "down_mbps"})], "network.down.trace", "expected a time column"),
    ("tv-trace-non-monotone", [None, ("network.down", {"trace": "time-traces/tv-non-monotone.csv", "column": "down_mbps"})], "network.down.trace", "line 4, column 'time_s': expected a time after the previous row's 2"),
    ("tv-trace-negative", [None, ("network.down", {"trace": "time-traces/tv-negative.csv", "column": "down_mbps"})], "network.down.trace", "line 3, column 'down_mbps': expected a finite capacity ≥ 0, found '-3'"),
    ("tv-trace-nan", [None, ("network.down", {"trace": "time-traces/tv-nan.csv", "column": "down_mbps"})], "network.down.trace", "line 3, column 'down_mbps': expected a finite capacity ≥ 0, found 'nan'"),
    ("tv-trace-empty", [None, ("network.down", {"trace": "time-traces/tv-empty.csv", "column": "down_mbps"})], "network.down.trace", "tv-empty.csv': is empty"),
    ("tv-trace-header-only", [None, ("network.down", {"trace": "time-traces/tv-header-only.csv", "column": "down_mbps"})], "network.down.trace", "has a header but no rows"),
    ("tv-trace-is-directory", [None, ("network.down", {"trace": "traces", "column": "down_mbps"})], "network.down.trace", "is a directory"),
    ("tv-trace-second-file-missing", [None, ("network.down", {"trace": ["time-traces/tv-kbps.csv", "traces/no-such.csv"], "column": "down_kbps"})], "network.down.trace[1]", "no-such.csv"),
    ("tv-trace-unit-contradicts-header", [None, ("network.down", {"trace": "time-traces/tv-kbps.csv", "column": "down_kbps", "unit": "Mbps"})], "network.down.unit", "the unit the header of column 'down_kbps' names ('kbps')"),
    ("tv-trace-unknown-key", [None, ("network.down", {"trace": "time-traces/tv-kbps.csv", "column": "down_kbps", "looop": True})], "network.down", "unknown key 'looop' (did you mean 'loop'?)"),
    ("tv-trace-no-column", [None, ("network.down", {"trace": "time-traces/tv-kbps.csv"})], "network.down", "missing key 'column'"),
    ("tv-trace-offset-bare-number", [None, ("network.down", {"trace": "time-traces/tv-kbps.csv", "column": "down_kbps", "offset": 30})], "network.down.offset", "duration"),
    ("tv-trace-groups-zero", [None, ("network.down", {"trace": "time-traces/tv-kbps.csv", "column": "down_kbps", "groups": 0})], "network.down.groups", "a number of shared timelines"),
    ("tv-trace-unknown-format", [None, ("network.down", {"trace": "time-traces/tv-kbps.csv", "column": "down_kbps", "format": "pcap"})], "network.down.format", "unknown trace format 'pcap'"),
]

def expand(edits):
    """None stands for: inline link instead of the profile (down set by the next edit)."""
    out = []
    for e in edits:
        if e is None:
            out += [("network.profile", DELETE), ("network.up", "1Mbps"), ("network.rtt", "50ms")]
        else:
            out.append(e)
    return out

# Documents that are not valid JSON (or repeat a key): name, bytes, key path, message fragment.
RAW = [
    ("empty-file", b"", "", "not valid JSON: line 1, column 1: the document is empty"),
    ("duplicate-top-key", b'{"name": "bad", "seed": 1, "workload": {}, "seed": 2}\n', "(top level)", "'seed' twice: line 1, column 17 and line 1, column 44"),
    ("duplicate-nested-key", b'{"name": "bad",\n "population": {"clients": 50,\n                "clients": 60}}\n', "population", "'clients' twice: line 2, column 17 and line 3, column 17"),
    ("duplicate-key-in-array", b'{"name": "bad", "arms": [{"codec": "lora"}, {"codec": "fedsrd", "codec": "topk"}]}\n', "arms[1]", "'codec' twice"),
    ("deep-nesting", b'{"name": "bad", "description": ' + b"[" * 300 + b"]" * 300 + b"}\n", "", "nested more than 256 deep"),
    ("trailing-comma-object", b'{"name": "bad", "seed": 1,}\n', "", "line 1, column 27: a trailing comma before '}'"),
    ("trailing-comma-array", b'{"name": "bad", "arms": [{"codec": "lora"},]}\n', "", "a trailing comma before ']'"),
    ("trailing-garbage", b'{"name": "bad"} x\n', "", "line 1, column 17: unexpected 'x' after the end of the JSON value"),
    ("two-documents", b'{"name": "bad"}\n{"name": "again"}\n', "", "line 2, column 1: unexpected '{' after the end"),
    ("leading-zero", b'{"name": "bad", "seed": 007}\n', "", "line 1, column 25: a number with a leading zero"),
    ("nan", b'{"name": "bad", "seed": NaN}\n', "", "NaN and Infinity are not JSON numbers"),
    ("infinity", b'{"name": "bad", "seed": -Infinity}\n', "", "NaN and Infinity are not JSON numbers"),
    ("number-too-large", b'{"name": "bad", "seed": 1e400}\n', "", "a number too large for a 64-bit float"),
    ("invalid-utf8", b'{"name": "b\xc3\x28d"}\n', "", "line 1, column 12: invalid UTF-8"),
    ("overlong-utf8", b'{"name": "\xc0\xafbad"}\n', "", "invalid UTF-8"),
    ("lone-surrogate", b'{"name": "\\ud800bad"}\n', "", "a lone high surrogate \\uD800"),
    ("lone-low-surrogate", b'{"name": "\\udc00"}\n', "", "a lone low surrogate \\uDC00"),
    ("raw-control-character", b'{"name": "b\tad"}\n', "", "a raw control character U+0009"),
    ("bad-escape", b'{"name": "b\\xad"}\n', "", "an invalid escape '\\x'"),
    ("single-quotes", b"{'name': 'bad'}\n", "", "expected a key in double quotes"),
    ("comment", b'{"name": "bad" // a comment\n}\n', "", "line 1, column 16: expected ',' or '}', found '/'"),
    ("unclosed-string", b'{"name": "bad}', "", "a string that is never closed"), ("unclosed-string-newline", b'{"name": "bad}\n', "", "a raw control character U+000A"),
    ("number-with-unit", b'{"name": "bad", "stop": {"time": 24h}}\n', "", "'h' inside a number"),
    ("true-prefix", b'{"name": "bad", "network": {"keep_connections": truex}}\n', "", "after 'true'"),
]

def main():
    for f in os.listdir(HERE):
        if f.endswith(".json"):
            os.remove(os.path.join(HERE, f))
    expected = {}
    for name, edits, path, fragment in CASES:
        doc = copy.deepcopy(BASE)
        for p, v in expand(edits):
            put(doc, p, v)
        fname = f"{name}.json"
        with open(os.path.join(HERE, fname), "w") as fh:
            json.dump(doc, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        expected[fname] = {"key_path": path, "message": fragment}
    with open(os.path.join(HERE, "syntax-error.json"), "w") as fh:
        fh.write('{"name": "bad", "population": {"clients": 50}\n')
    expected["syntax-error.json"] = {"key_path": "", "message": "not valid JSON: line 2, column 1: expected ',' or '}', found end of input"}
    for name, text, path, fragment in RAW:
        with open(os.path.join(HERE, f"{name}.json"), "wb") as fh:
            fh.write(text)
        expected[f"{name}.json"] = {"key_path": "" if path == "(top level)" else path, "message": fragment}
    with open(os.path.join(HERE, "expected-messages.txt"), "w") as fh:
        json.dump(expected, fh, indent=1, sort_keys=True, ensure_ascii=False)
        fh.write("\n")

main()
