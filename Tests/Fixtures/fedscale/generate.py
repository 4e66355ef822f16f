#!/usr/bin/env python3
"""Writes the FedScale trace fixtures: small pickles in the structure of FedScale's published
client_device_capacity and client_behave_trace (benchmark/dataset/data/device_info/README.md of
SymbioticLab/FedScale), and hostile pickles that FedSim's reader must refuse without running
anything. Test-only; run from anywhere (python3, standard library only). The hostile payloads are
only written here, never loaded: pickle.dumps does not call __reduce__'s result."""
import os, pickle

HERE = os.path.dirname(os.path.abspath(__file__))

def write(name, data):
    with open(os.path.join(HERE, name), "wb") as fh:
        fh.write(data)

# {client id: {'computation': ms per sample, 'communication': kbps}}; ids from 1, as FedScale's.
device = {
    1: {'computation': 153.0, 'communication': 2183.0},
    2: {'computation': 40.5, 'communication': 13380.25},
    3: {'computation': 412.0, 'communication': 512.0},
    4: {'computation': 88, 'communication': 65000},
}
# {client id: {'duration', 'inactive', 'finish_time', 'active', 'model'}} (seconds).
behaviour = {
    1: {'duration': 3600, 'inactive': [3600, 10800], 'finish_time': 86400, 'active': [0, 7200], 'model': 'SM-G960F'},
    2: {'duration': 43200, 'inactive': [86400], 'finish_time': 86400, 'active': [43200], 'model': 'Pixel 3'},
    3: {'duration': 600, 'inactive': [1800, 2400], 'finish_time': 7200, 'active': [1200, 1800], 'model': 'CPH1801'},
}
write("client_device_capacity", pickle.dumps(device, protocol=4))
write("client_behave_trace", pickle.dumps(behaviour, protocol=2))
write("client_behave_trace.p5", pickle.dumps(behaviour, protocol=5))

class Payload:
    """Unpickling this would call os.system: the classic pickle exploit."""
    def __reduce__(self):
        return (os.system, ("touch /tmp/fedsim-pickle-was-run",))

write("hostile-reduce.pkl", pickle.dumps({1: Payload()}, protocol=4))
write("hostile-reduce-p2.pkl", pickle.dumps({1: Payload()}, protocol=2))
write("hostile-global.pkl", pickle.dumps(len, protocol=2))
whole = pickle.dumps(device, protocol=4)
write("truncated.pkl", whole[: len(whole) // 2])
deep = []
for _ in range(300):
    deep = [deep]
write("deep.pkl", pickle.dumps(deep, protocol=4))
loop = []
loop.append(loop)
write("self-reference.pkl", pickle.dumps(loop, protocol=4))
laughs = ["lol"]
for _ in range(60):
    laughs = [laughs, laughs]
write("laughs.pkl", pickle.dumps(laughs, protocol=4))
write("not-a-dict.pkl", pickle.dumps([1, 2, 3], protocol=4))
write("missing-key.pkl", pickle.dumps({7: {'computation': 1.0}}, protocol=4))
write("bad-interval.pkl", pickle.dumps({7: {'inactive': [10], 'finish_time': 100, 'active': [20]}}, protocol=4))
