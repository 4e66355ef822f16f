import Foundation
import Network
import Numerics

/// `fedsim import fedscale --device F --behaviour F --out DIR`: FedScale's client traces as files
/// a person can read and a scenario can name.
struct ImportCommand: Command {
    static let name = "import"
    static let abstract = "Convert FedScale's client device and behaviour traces (pickles) to CSV and JSON."
    static let options: [OptionSpec] = [
        OptionSpec("device", "FILE", "FedScale's client_device_capacity pickle ({id: {'computation', 'communication'}})."),
        OptionSpec("behaviour", "FILE", "FedScale's client_behave_trace pickle ({id: {'active', 'inactive', 'finish_time', …}})."),
        OptionSpec("out", "DIR", "Folder for device.csv and behaviour.json (created)."),
        OptionSpec("reference-flops", "Q", "FLOPs of one forward pass of the model FedScale timed (e.g. \"0.6GFLOP\"):\nadds device_speed_flops = Q ÷ latency to device.csv."),
        OptionSpec("force", nil, "Replace device.csv and behaviour.json in DIR if present."),
    ]

    static let help = """
    Read FedScale's published client traces — Python pickles of dicts, read by a restricted reader
    that accepts plain data only (dicts, lists, numbers, strings) and refuses anything that would
    import or call code — and write them as:
      DIR/device.csv      client,computation_ms_per_sample,communication_kbps[,device_speed_flops]
      DIR/behaviour.json  {"format": "\(FedScaleTrace.behaviourFormat)", "unit": "s", "clients": [{"id", "finish_time", "active", "inactive", …}]}
    Units (from FedScale's code, ClientMetadata.get_completion_time): computation is the model's
    inference latency in ms per sample (FedScale charges training 3× that), communication a
    bandwidth in kbit/s used for both directions. A scenario names the results as
      "availability": {"fedscale": {"behaviour": "DIR/behaviour.json"}}
      "network": {"down": {"dist": "empirical", "trace": {"file": "DIR/device.csv", "column": "communication_kbps", "unit": "kbps"}}, …}
    (the pickle itself works for "behaviour" too). docs/SCENARIOS.md, "FedScale traces".

    USAGE:
      fedsim import fedscale [--device FILE] [--behaviour FILE] --out DIR [--reference-flops Q] [--force]

    \(options.helpText)
    """

    let device: String?
    let behaviour: String?
    let out: String
    let referenceFLOPs: Double?
    let force: Bool

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        guard let format = parsed.positional.first else { throw UsageError("missing the format to import (fedscale)") }
        guard format == "fedscale" else { throw UsageError("unknown format '\(InputError.clipped(format, 40))': fedsim imports 'fedscale'") }
        guard parsed.positional.count == 1 else { throw UsageError("unexpected argument '\(InputError.clipped(parsed.positional[1], 40))'") }
        device = parsed.value("device")
        behaviour = parsed.value("behaviour")
        guard device != nil || behaviour != nil else { throw UsageError("give --device FILE, --behaviour FILE or both") }
        guard let out = parsed.value("out"), !out.isEmpty else { throw UsageError("missing --out DIR") }
        self.out = out
        if let q = parsed.value("reference-flops") {
            guard let v = Quantity.parse(q, as: .flops), v > 0, v.isFinite else {
                throw UsageError("--reference-flops expects FLOPs with a unit such as \"0.6GFLOP\", found '\(InputError.clipped(q, 40))'")
            }
            referenceFLOPs = v
        } else {
            referenceFLOPs = nil
        }
        force = parsed.flag("force")
    }

    func run(console: Console) throws -> Int32 {
        var files: [(name: String, data: Data)] = []
        var lines: [String] = []
        if let device {
            let devices = try FedScaleTrace.devices(try PickleReader.read(file: device), file: device)
            files.append(("device.csv", Data(FedScaleTrace.deviceCSV(devices, referenceFLOPsPerSample: referenceFLOPs).utf8)))
            func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
            lines.append("device: \(devices.count) clients, median computation \(Quantity.shortest(median(devices.map(\.computationMsPerSample)))) ms/sample, "
                         + "median communication \(Quantity.humanReadable(median(devices.map(\.communicationKbps)) * 1000, as: .bitRate))")
        }
        if let behaviour {
            let behaviours = try FedScaleTrace.behaviours(try PickleReader.read(file: behaviour), file: behaviour)
            let trace = try FedScaleTrace.trace(behaviours, file: behaviour, source: behaviour)
            var text = FedScaleTrace.behaviourJSON(behaviours, source: (behaviour as NSString).lastPathComponent).text(pretty: false)
            text += "\n"
            files.append(("behaviour.json", Data(text.utf8)))
            let shares = trace.entries.map { e in zip(e.starts, e.ends).reduce(0) { $0 + $1.1 - $1.0 } / e.period }
            lines.append("behaviour: \(behaviours.count) clients, available \(String(format: "%.1f", 100 * shares.reduce(0, +) / Double(max(shares.count, 1))))% of the time on average")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw InputError(.file(path: out, reason: "exists and is not a directory"), at: "--out")
        }
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            throw OutputError(path: out, reason: InputFile.plain(error))
        }
        for f in files where !force && FileManager.default.fileExists(atPath: out + "/" + f.name) {
            throw InputError(.file(path: out + "/" + f.name, reason: "exists (give --force to replace it)"), at: "--out")
        }
        for f in files {
            do { try f.data.write(to: URL(fileURLWithPath: out + "/" + f.name), options: .atomic) } catch {
                throw OutputError(path: out + "/" + f.name, reason: InputFile.plain(error))
            }
        }
        lines.forEach { console.print($0) }
        console.print("Wrote " + files.map { out + "/" + $0.name }.joined(separator: ", "))
        return 0
    }
}
