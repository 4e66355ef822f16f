import Foundation
import Numerics
import XCTest

final class DistributionJSONTests: XCTestCase {
    func decode(_ json: String, base: String? = nil) throws -> Distribution {
        try Distribution.parse(Data(json.utf8), file: nil, baseDirectory: base)
    }

    /// Decoding must fail with an `InputError` at `path` whose message contains `fragment`.
    func assertError(_ json: String, path: String, _ fragment: String, base: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try decode(json, base: base)
            XCTFail("accepted \(json)", file: file, line: line)
        } catch let error as InputError {
            XCTAssertEqual(error.keyPath, path, "\(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(fragment), "'\(error)' lacks '\(fragment)'", file: file, line: line)
        } catch {
            XCTFail("not an InputError: \(error)", file: file, line: line)
        }
    }

    func testUnitsAndForms() throws {
        let d = try decode(#"{"dist": "lognormal", "median": "10Mbps", "p90": "40Mbps"}"#)
        XCTAssertEqual(d.dimension, .bitRate)
        XCTAssertEqual(d.quantile(0.5), 1e7, accuracy: 1e-3)
        XCTAssertEqual(try decode(#""80ms""#).quantile(0.5), 0.08, accuracy: 1e-15)
        XCTAssertEqual(try decode("12").quantile(0.5), 12)
        XCTAssertEqual(try decode(#"{"dist":"constant","value":"16MiB"}"#).quantile(0.5), 16 * 1_048_576)
        let rtt = try decode(#"{"dist":"uniform","min":"20ms","max":"100ms"}"#)
        XCTAssertEqual(rtt.dimension, .duration)
        XCTAssertEqual(rtt.quantile(1), 0.1)
        let speed = try decode(#"{"dist":"lognormal","median":"30TFLOPS","sigma":0.5}"#)
        XCTAssertEqual(speed.quantile(0.5), 30e12, accuracy: 1)
        let mu = try decode(#"{"dist":"lognormal","mu":1,"sigma":0.5}"#)
        XCTAssertEqual(mu.quantile(0.5), M_E, accuracy: 1e-12)
    }

    func testRoundTripIsStable() throws {
        let inputs = [
            #"{"dist":"lognormal","median":"10Mbps","p90":"40Mbps"}"#,
            #"{"dist":"normal","mean":"20ms","sd":"5ms","min":"1ms"}"#,
            #"{"dist":"gamma","shape":2,"scale":"3s"}"#,
            #"{"dist":"empirical","values":["1Mbps","2Mbps"],"weights":[1,3]}"#,
            #"{"dist":"mixture","components":[{"weight":1,"dist":"exponential","mean":2},{"weight":2,"dist":"pareto","shape":2,"scale":1}]}"#,
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for input in inputs {
            let once = try decode(input)
            let text = String(decoding: try encoder.encode(once), as: UTF8.self)
            let twice = try decode(text)
            XCTAssertEqual(String(decoding: try encoder.encode(twice), as: UTF8.self), text, input)
            for p in [0.1, 0.5, 0.9] { XCTAssertEqual(twice.quantile(p), once.quantile(p), accuracy: 1e-9 * abs(once.quantile(p))) }
        }
    }

    func testBadInputNamesKeyPathAndExpectation() {
        assertError(#"{"dist":"weibul","shape":1,"scale":1}"#, path: "dist", "did you mean 'weibull'")
        assertError(#"{"dist":"gamma","shape":2}"#, path: "", "missing key 'scale'")
        assertError(#"{"dist":"gamma","shape":-2,"scale":1}"#, path: "shape", "expected a positive number, found -2")
        assertError(#"{"dist":"exponential","mean":0}"#, path: "mean", "positive")
        assertError(#"{"dist":"normal","mean":1,"sd":-1}"#, path: "sd", "positive")
        assertError(#"{"dist":"lognormal","median":"10Mbps","p90":"5Mbps"}"#, path: "p90", "p90 greater than median")
        assertError(#"{"dist":"lognormal","median":"10Mbps","p09":"40Mbps"}"#, path: "", "did you mean 'p90'")
        assertError(#"{"dist":"lognormal","median":"10Mbps"}"#, path: "", "missing key 'p90'")
        assertError(#"{"dist":"uniform","min":5,"max":2}"#, path: "max", "max greater than min")
        assertError(#"{"dist":"normal","mean":0,"sd":1,"min":40}"#, path: "min", "probability")
        assertError(#"{"dist":"uniform","min":"5ms","max":"2Mbps"}"#, path: "max", "duration")
        assertError(#"{"dist":"uniform","min":"5 parsecs","max":1}"#, path: "min", "quantity")
        assertError(#"{"dist":"mixture","components":[{"weight":0,"dist":"constant","value":1}]}"#, path: "components[0].weight", "positive weight")
        assertError(#"{"dist":"mixture","components":[{"weight":-1,"dist":"constant","value":1}]}"#, path: "components[0].weight", "positive weight")
        assertError(#"{"dist":"mixture","components":[]}"#, path: "components", "at least one")
        assertError(#"{"dist":"mixture","components":[{"weight":1,"dist":"gamma","shape":1,"scale":"1s"},{"weight":1,"dist":"constant","value":"1MB"}]}"#,
                    path: "components[1]", "duration")
        assertError(#"{"dist":"empirical","values":[1,2],"weights":[1]}"#, path: "weights", "2 weights")
        assertError(#"{"dist":"empirical","values":[1,2],"weights":[1,0]}"#, path: "weights", "positive")
        assertError(#"{"dist":"empirical","values":[1,2],"method":"interp"}"#, path: "method", "did you mean 'interpolate'")
        assertError(#"{"dist":"empirical"}"#, path: "", "missing key 'values'")
        assertError(#"{"dist":"gamma","shape":"two","scale":1}"#, path: "shape", "expected a number")
        assertError("[1,2]", path: "", "distribution object")
        assertError(#""fast""#, path: "", "quantity")
    }

    func testNestedKeyPathsInsideAScenarioLikeDocument() throws {
        let json = #"{"network": {"downlink": {"dist":"gamma","shape":0,"scale":"1Mbps"}}}"#
        let root = Node(try JSONValue.parse(Data(json.utf8), file: nil))
        XCTAssertThrowsError(try root.required("network").required("downlink").distribution(.bitRate)) { error in
            XCTAssertEqual((error as? InputError)?.keyPath, "network.downlink.shape", "\(error)")
        }
    }

    func testTraceColumn() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-trace-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "client,down_mbps,rtt_ms\na,10,40\nb,20,30\n\nc,30,20\n".write(to: dir.appendingPathComponent("t.csv"), atomically: true, encoding: .utf8)
        try "client,down_mbps\na,10\nb,fast\n".write(to: dir.appendingPathComponent("bad.csv"), atomically: true, encoding: .utf8)
        try "".write(to: dir.appendingPathComponent("empty.csv"), atomically: true, encoding: .utf8)
        let d = try decode(#"{"dist":"empirical","trace":{"file":"t.csv","column":"down_mbps","unit":"Mbps"}}"#, base: dir.path)
        XCTAssertEqual(d.dimension, .bitRate)
        XCTAssertEqual(d.mean!, 20e6, accuracy: 1e-6)
        let byIndex = try decode(#"{"dist":"empirical","trace":{"file":"t.csv","column":2,"unit":"1"},"method":"interpolate"}"#, base: dir.path)
        XCTAssertEqual(byIndex.quantile(0.5), 30)
        assertError(#"{"dist":"empirical","trace":{"file":"nope.csv","column":"x","unit":"ms"}}"#, path: "trace", "no such file", base: dir.path)
        assertError(#"{"dist":"empirical","trace":{"file":"empty.csv","column":"x","unit":"ms"}}"#, path: "trace", "is empty", base: dir.path)
        assertError(#"{"dist":"empirical","trace":{"file":"bad.csv","column":"down_mbps","unit":"Mbps"}}"#, path: "trace", "line 3", base: dir.path)
        assertError(#"{"dist":"empirical","trace":{"file":"t.csv","column":"down_mpbs","unit":"Mbps"}}"#, path: "trace", "did you mean 'down_mbps'", base: dir.path)
        assertError(#"{"dist":"empirical","trace":{"file":"t.csv","column":"down_mbps","unit":"furlongs"}}"#, path: "trace.unit", "unit", base: dir.path)
    }

    /// Issue 9: units are case-sensitive, bare numbers need a documented unit, traces need a unit.
    func testStrictUnits() throws {
        func decode(_ json: String, requiring dimension: Quantity.Dimension?) throws -> Distribution {
            try Distribution.parse(Data(json.utf8), file: nil, baseDirectory: nil, requiredDimension: dimension)
        }
        func fails(_ json: String, _ dimension: Quantity.Dimension?, _ path: String, _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try decode(json, requiring: dimension), json, line: line) { error in
                guard let e = error as? InputError else { return XCTFail("\(error)", line: line) }
                XCTAssertEqual(e.keyPath, path, e.description, line: line)
                XCTAssertTrue(e.description.contains(fragment), "'\(e)' lacks '\(fragment)'", line: line)
            }
        }
        // Wrong case or ambiguous units.
        for (text, hint) in [("10mbps", "'Mbps'"), ("10MBps", "'MB/s'"), ("10GBPS", "'Gbps'"), ("1kb/s", "'kB/s'")] {
            XCTAssertNil(Quantity.parse(text, as: .bitRate), text)
            fails("\"\(text)\"", .bitRate, "", hint)
        }
        XCTAssertNil(Quantity.parse("16Mb", as: .bytes))
        XCTAssertTrue(Quantity.expectation(for: "16Mb", as: .bytes).contains("did you mean 'MB' (bytes)?"))
        XCTAssertNil(Quantity.parse("1gb", as: .bytes))
        XCTAssertNil(Quantity.parse("30tflops", as: .flopRate))
        XCTAssertNil(Quantity.parse("5Ms", as: .duration))
        fails(#""5MS""#, .duration, "", "did you mean 'ms' (duration)?")
        // Bare numbers: rejected where the dimension has units, accepted for plain values.
        fails("0.05", .duration, "", "a duration with a unit")
        fails(#""0.05""#, .duration, "", "a duration with a unit")
        fails(#"{"dist":"uniform","min":"10ms","max":0.05}"#, .duration, "max", "a duration with a unit")
        fails(#"{"dist":"exponential","mean":3600}"#, .duration, "mean", "a duration with a unit")
        fails(#"{"dist":"empirical","values":["1Mbps",2000000]}"#, .bitRate, "values[1]", "a bit-rate with a unit")
        fails(#"{"dist":"mixture","components":[{"weight":1,"dist":"constant","value":"1s"},{"weight":1,"dist":"constant","value":2}]}"#,
              .duration, "components[1].value", "a duration with a unit")
        fails(#"{"dist":"uniform","min":0,"max":"10ms"}"#, nil, "min", "a duration with a unit like the other parameters")
        XCTAssertEqual(try decode("12", requiring: .dimensionless).quantile(0.5), 12)
        XCTAssertEqual(try decode(#"{"dist":"lognormal","mu":1,"sigma":0.5}"#, requiring: .bitRate).quantile(0.5), M_E, accuracy: 1e-12)
        XCTAssertEqual(try decode(#"{"dist":"gamma","shape":2,"scale":"1h"}"#, requiring: .duration).mean!, 7200, accuracy: 1e-9)
        XCTAssertEqual(try decode(#"{"dist":"uniform","min":"0ms","max":"10ms"}"#, requiring: .duration).quantile(1), 0.01)
        // Traces: a unit is required and must be of the required dimension.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-strict-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "down\n10\n20\n".write(to: dir.appendingPathComponent("t.csv"), atomically: true, encoding: .utf8)
        func trace(_ unit: String?) -> String {
            #"{"dist":"empirical","trace":{"file":""# + dir.path + #"/t.csv","column":"down""# + (unit.map { #","unit":""# + $0 + #"""# } ?? "") + "}}"
        }
        XCTAssertEqual(try decode(trace("Mbps"), requiring: .bitRate).mean!, 15e6, accuracy: 1e-6)
        XCTAssertEqual(try decode(trace("1"), requiring: .dimensionless).mean!, 15, accuracy: 1e-12)
        fails(trace(nil), .bitRate, "trace", "the unit of the trace's numbers")
        fails(trace(nil), nil, "trace", "the unit of the trace's numbers")
        fails(trace("mbps"), .bitRate, "trace.unit", "did you mean 'Mbps'")
        fails(trace("ms"), .bitRate, "trace.unit", "a bit-rate unit")
        fails(trace(""), .bitRate, "trace.unit", "a unit such as")
        // A directory is not a trace file.
        fails(#"{"dist":"empirical","trace":{"file":""# + dir.path + #"","column":"down","unit":"Mbps"}}"#, .bitRate, "trace", "is a directory")
    }

    func testRequiringDimensionAndSupport() throws {
        let rate = try decode(#"{"dist":"lognormal","median":"10Mbps","p90":"40Mbps"}"#)
        XCTAssertNoThrow(try rate.requiring(.bitRate, at: "network.downlink"))
        XCTAssertThrowsError(try rate.requiring(.duration, at: "network.rtt")) { error in
            XCTAssertEqual((error as? InputError)?.keyPath, "network.rtt")
        }
        let normal = try decode(#"{"dist":"normal","mean":"20Mbps","sd":"10Mbps"}"#)
        XCTAssertThrowsError(try normal.requiringSupport(atLeast: 0, at: "network.downlink"))
        XCTAssertNoThrow(try rate.requiringSupport(atLeast: 0, at: "network.downlink"))
    }
}

final class QuantityTests: XCTestCase {
    func testParse() {
        XCTAssertEqual(Quantity.parse("10Mbps", as: .bitRate), 1e7)
        XCTAssertEqual(Quantity.parse("10 Mbps", as: .bitRate), 1e7)
        XCTAssertNil(Quantity.parse("10 mbps", as: .bitRate))
        XCTAssertEqual(Quantity.parse("1.5GB/s", as: .bitRate), 1.2e10)
        XCTAssertEqual(Quantity.parse("80ms", as: .duration), 0.08)
        XCTAssertEqual(Quantity.parse("15min", as: .duration), 900)
        XCTAssertEqual(Quantity.parse("2h", as: .duration), 7200)
        XCTAssertEqual(Quantity.parse("16MB", as: .bytes), 16e6)
        XCTAssertEqual(Quantity.parse("1KiB", as: .bytes), 1024)
        XCTAssertEqual(Quantity.parse("30TFLOPS", as: .flopRate), 30e12)
        XCTAssertEqual(Quantity.parse("8%", as: .dimensionless), 0.08)
        XCTAssertEqual(Quantity.parse("1e3", as: .bytes), 1000)
        XCTAssertEqual(Quantity.parse("2.5e-3s", as: .duration), 0.0025)
        XCTAssertNil(Quantity.parse("10Mbps", as: .duration))
        XCTAssertNil(Quantity.parse("fast", as: .bitRate))
        XCTAssertNil(Quantity.parse("10MS", as: .duration), "duration units are case-sensitive: MS is not ms")
    }

    func testFormatIsExactAndShort() {
        XCTAssertEqual(Quantity.format(1e7, as: .bitRate), "10Mbps")
        XCTAssertEqual(Quantity.format(0.08, as: .duration), "80ms")
        XCTAssertEqual(Quantity.format(16e6, as: .bytes), "16MB")
        XCTAssertEqual(Quantity.format(30e12, as: .flopRate), "30TFLOPS")
        for value in [12_345_678.9, 0.0123, 1e-9, 3.0] {
            let text = Quantity.format(value, as: .duration)
            XCTAssertEqual(Quantity.parse(text, as: .duration), value, text)
        }
        XCTAssertEqual(Quantity.humanReadable(5400, as: .duration), "1.50 h")
        XCTAssertEqual(Quantity.humanReadable(12.34e6, as: .bitRate), "12.3 Mbps")
    }

    func testSuggestion() {
        XCTAssertEqual(Suggestion.nearest(to: "p09", in: ["median", "p90", "sigma"]), "p90")
        XCTAssertNil(Suggestion.nearest(to: "zzzzzz", in: ["median", "p90"]))
        XCTAssertEqual(Suggestion.editDistance("kitten", "sitting"), 3)
    }
}
