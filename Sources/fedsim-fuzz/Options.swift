/// fedsim-fuzz's options (see `usage`).
struct Options {
    var targets: [String] = []
    var cases = 10_000
    var timeLimit = 900.0
    var seed: UInt64 = 1
    var timeout = 1.0
    var jobs = 1
    var root = "."
    var fixtures: String?
    var save = true
    var minimise = true
}

func parseOptions(_ args: [String]) throws -> Options {
    var o = Options()
    var i = 0
    func value() throws -> String {
        guard i + 1 < args.count else { throw FuzzUsage("\(args[i]) needs a value") }
        i += 1
        return args[i]
    }
    while i < args.count {
        switch args[i] {
        case "--targets": o.targets = try value().split(separator: ",").map(String.init).filter { $0 != "all" }
        case "--cases": guard let n = Int(try value()), n >= 0 else { throw FuzzUsage("--cases: expected a count") }; o.cases = n
        case "--time-limit": guard let s = Double(try value()), s > 0 else { throw FuzzUsage("--time-limit: expected seconds") }; o.timeLimit = s
        case "--seed": guard let s = UInt64(try value()) else { throw FuzzUsage("--seed: expected an unsigned integer") }; o.seed = s
        case "--timeout": guard let s = Double(try value()), s > 0 else { throw FuzzUsage("--timeout: expected seconds") }; o.timeout = s
        case "--jobs": guard let j = Int(try value()), j >= 1 else { throw FuzzUsage("--jobs: expected at least 1") }; o.jobs = j
        case "--root": o.root = try value()
        case "--fixtures": o.fixtures = try value()
        case "--no-save": o.save = false
        case "--no-minimise": o.minimise = false
        default: throw FuzzUsage("unknown argument '\(args[i])'")
        }
        i += 1
    }
    return o
}
