import Foundation

/// What a supervisor does with a crash or a hang: its signature, a smaller case, a saved fixture.
extension Supervisor {
    /// The trap message and the first frame in FedSim's sources, from a worker's stderr (Swift's
    /// backtracer: message, then the crashed thread's frames), and that part of the text.
    func signature(from stderr: String, status: String) -> (String, String) {
        let root = URL(fileURLWithPath: options.root).standardizedFileURL.path + "/"
        let text = stderr.replacingOccurrences(of: root, with: "")
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let end = lines.firstIndex(where: { $0.hasPrefix("Registers:") || $0.hasPrefix("Thread 1") || $0.hasPrefix("Images") }) {
            lines = Array(lines[..<end])
        }
        let fatal = lines.first { $0.contains("Fatal error") || $0.contains("runtime failure") }
        let crashed = lines.first { $0.contains("Program crashed") }
        var message = (fatal ?? crashed ?? status).trimmingCharacters(in: .whitespaces)
        if fatal == nil, let c = crashed, let at = c.range(of: " at 0x") { message = String(c[..<at.lowerBound]).trimmingCharacters(in: .whitespaces) }
        // Frames: "  N [ra]  0xADDR function + OFFSET in image at Sources/Module/File.swift:LINE:COL"
        func frame(_ line: String) -> (function: String, location: String)? {
            guard let at = line.range(of: " at Sources/"), !line.contains("Sources/fedsim-fuzz/"),
                  let address = line.range(of: "0x") else { return nil }
            let afterAddress = line[address.upperBound...].drop { $0.isHexDigit }.drop { $0 == " " }
            let function = afterAddress.components(separatedBy: " + ").first ?? ""
            return (function, String(line[line.index(at.lowerBound, offsetBy: 4)...]))
        }
        let frames = lines.compactMap(frame)
        let best = frames.first { $0.location.contains(".swift:") } ?? frames.first
        let signature = message + (best.map { " @ \($0.function) (\($0.location))" } ?? "")
        return (signature, lines.prefix(60).joined(separator: "\n"))
    }

    /// Shrinks the largest file of a crashing case while the replay still crashes with the same message.
    func minimise(_ input: FuzzCase, message: String) -> FuzzCase {
        guard options.minimise, let largest = input.files.indices.max(by: { input.files[$0].bytes.count < input.files[$1].bytes.count }) else { return input }
        var best = input
        var attempts = 0
        let start = Date()
        var chunk = max(1, best.files[largest].bytes.count / 2)
        while chunk >= 1, attempts < 48, Date().timeIntervalSince(start) < 12 {
            var offset = 0
            var shrunk = false
            while offset < best.files[largest].bytes.count, attempts < 48, Date().timeIntervalSince(start) < 12 {
                var candidate = best
                let end = min(offset + chunk, candidate.files[largest].bytes.count)
                candidate.files[largest].bytes.removeSubrange(offset..<end)
                attempts += 1
                if case let .crashed(_, status, stderr) = replay(candidate, backtrace: true), signature(from: stderr, status: status).0 == message {
                    best = candidate
                    shrunk = true
                } else {
                    offset += chunk
                }
            }
            if !shrunk { chunk /= 2 }
        }
        return best
    }

    /// Writes a new crasher or hanger under the fixture folder; returns its path.
    func save(_ input: FuzzCase, detail: String) -> String? {
        guard options.save else { return nil }
        let hash = hashName(input.files.flatMap { [Array($0.name.utf8), $0.bytes] })
        let fm = FileManager.default
        try? fm.createDirectory(atPath: fixtureDir, withIntermediateDirectories: true)
        let path: String
        if input.files.count == 1 {
            path = fixtureDir + "/" + hash + "-" + input.files[0].name
            try? Data(input.files[0].bytes).write(to: URL(fileURLWithPath: path))
        } else {
            path = fixtureDir + "/" + hash
            try? input.write(into: path)
        }
        try? Data(detail.utf8).write(to: URL(fileURLWithPath: fixtureDir + "/" + hash + ".trap.txt"))
        return relative(path)
    }

    func handleCrash(_ n: Int, status: String, stderr: String) {
        let input = input(n)
        let (sig, detail) = signature(from: stderr, status: status)
        var finding = Finding(kind: "crash", caseLabel: label(n), signature: sig, detail: detail, saved: nil)
        if n < saved.count {
            finding.saved = relative(saved[n].path)
        } else if Self.signatures.insert(name + " " + sig) {
            let small = minimise(input, message: sig)
            finding.saved = save(small, detail: "fedsim-fuzz \(name): \(label(n)), \(status)\n\(sig)\n\n\(detail)\n")
        }
        summary.findings.append(finding)
    }

    func handleHang(_ n: Int) {
        let input = input(n)
        // Confirm alone: the machine may just have been busy.
        guard case .hung = replay(input, backtrace: false) else {
            writeFD(2, "fedsim-fuzz \(name): \(label(n)) took over \(options.timeout) s once but not when run alone; not counted as a hang\n")
            return
        }
        var finding = Finding(kind: "hang", caseLabel: label(n), signature: "over \(options.timeout) s", detail: "", saved: nil)
        if n < saved.count {
            finding.saved = relative(saved[n].path)
        } else if Self.signatures.insert(name + " hang") || summary.findings.filter({ $0.kind == "hang" }).count < 3 {
            finding.saved = save(input, detail: "fedsim-fuzz \(name): \(label(n)): still running after \(options.timeout) s\n")
        }
        summary.findings.append(finding)
    }
}
