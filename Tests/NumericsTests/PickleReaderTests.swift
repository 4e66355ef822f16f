import Foundation
import Numerics
import XCTest

/// The restricted pickle reader: FedScale-shaped fixtures written by Python
/// (Tests/Fixtures/fedscale/generate.py) read to the values Python wrote; hostile, truncated,
/// deeply nested and self-referencing pickles refused with the file and byte offset, nothing run.
final class PickleReaderTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fedscale")

    func read(_ name: String) throws -> PickleValue { try PickleReader.read(file: fixtures.appendingPathComponent(name).path) }

    func refusal(_ name: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try read(name)
            XCTFail("\(name) was accepted", file: file, line: line)
            return ""
        } catch let error as InputError {
            return error.description
        } catch {
            XCTFail("\(name): \(error)", file: file, line: line)
            return ""
        }
    }

    /// The device trace (protocol 4, with FRAME and MEMOIZE): ids, floats and an int as Python wrote them.
    func testDeviceTraceReadsAsWritten() throws {
        let v = try read("client_device_capacity")
        guard case let .dict(items) = v else { return XCTFail("not a dict") }
        XCTAssertEqual(items.map(\.key), [.int(1), .int(2), .int(3), .int(4)])
        XCTAssertEqual(items[0].value["computation"], .float(153.0))
        XCTAssertEqual(items[1].value["communication"], .float(13380.25))
        XCTAssertEqual(items[3].value["computation"], .int(88))
        XCTAssertEqual(items[3].value["communication"]?.number, 65000)
    }

    /// The behaviour trace in protocols 2 and 5 reads to the same value (lists, str, memo).
    func testBehaviourTraceProtocols2And5() throws {
        let v2 = try read("client_behave_trace"), v5 = try read("client_behave_trace.p5")
        XCTAssertEqual(v2, v5)
        guard case let .dict(items) = v2 else { return XCTFail("not a dict") }
        XCTAssertEqual(items.count, 3)
        XCTAssertEqual(items[0].value["active"], .list([.int(0), .int(7200)]))
        XCTAssertEqual(items[0].value["inactive"], .list([.int(3600), .int(10800)]))
        XCTAssertEqual(items[0].value["model"], .string("SM-G960F"))
        XCTAssertEqual(items[2].value["finish_time"], .int(7200))
    }

    /// Code-carrying pickles are refused at the opcode that would import, naming file and offset.
    func testHostilePicklesAreRefusedWithoutRunning() throws {
        let marker = "/tmp/fedsim-pickle-was-run"
        try? FileManager.default.removeItem(atPath: marker)
        let p4 = refusal("hostile-reduce.pkl")
        XCTAssertTrue(p4.contains("hostile-reduce.pkl"), p4)
        XCTAssertTrue(p4.contains("STACK_GLOBAL"), p4)
        XCTAssertTrue(p4.contains("at byte "), p4)
        let p2 = refusal("hostile-reduce-p2.pkl")
        XCTAssertTrue(p2.contains("at byte 7, opcode GLOBAL"), p2)
        XCTAssertTrue(refusal("hostile-global.pkl").contains("GLOBAL"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
        // REDUCE, BUILD, NEWOBJ and EXT1 on their own are refused too.
        for (code, name) in [(0x52, "REDUCE"), (0x62, "BUILD"), (0x81, "NEWOBJ"), (0x82, "EXT1"), (0x69, "INST"), (0x6F, "OBJ")] {
            let data = Data([0x80, 4, 0x4E, UInt8(code), 0x2E])
            XCTAssertThrowsError(try PickleReader.read(data, file: "x.pkl")) { e in
                XCTAssertTrue("\(e)".contains("at byte 3, opcode \(name)"), "\(e)")
            }
        }
    }

    /// Truncated, deeply nested, self-referencing and exponentially shared pickles: clear errors, bounded work.
    func testMalformedPicklesAreRefused() {
        XCTAssertTrue(refusal("truncated.pkl").contains("truncated"))
        XCTAssertTrue(refusal("deep.pkl").contains("nested deeper than 100 levels"))
        XCTAssertTrue(refusal("self-reference.pkl").contains("nested deeper than 100"))
        XCTAssertTrue(refusal("laughs.pkl").contains("memo references are expanded"))
        XCTAssertThrowsError(try PickleReader.read(Data(), file: "e.pkl")) { XCTAssertTrue("\($0)".contains("empty"), "\($0)") }
        XCTAssertThrowsError(try PickleReader.read(Data("(dp0\n".utf8), file: "p0.pkl")) { XCTAssertTrue("\($0)".contains("PROTO"), "\($0)") }
        XCTAssertThrowsError(try PickleReader.read(Data([0x80, 1, 0x4E, 0x2E]), file: "p1.pkl")) { XCTAssertTrue("\($0)".contains("protocol 1"), "\($0)") }
        // A string whose length runs past the end is refused before anything is allocated.
        XCTAssertThrowsError(try PickleReader.read(Data([0x80, 4, 0x8D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), file: "big.pkl")) {
            XCTAssertTrue("\($0)".contains("at byte 2"), "\($0)")
        }
    }

    /// Integer encodings: BININT negative, LONG1 negative and 8-byte, BININT2; floats big-endian.
    func testNumberEncodings() throws {
        func one(_ body: [UInt8]) throws -> PickleValue { try PickleReader.read(Data([0x80, 2] + body + [0x2E]), file: "n.pkl") }
        XCTAssertEqual(try one([0x4A, 0xFF, 0xFF, 0xFF, 0xFF]), .int(-1))
        XCTAssertEqual(try one([0x4D, 0x34, 0x12]), .int(0x1234))
        XCTAssertEqual(try one([0x8A, 0x01, 0xFF]), .int(-1))
        XCTAssertEqual(try one([0x8A, 0x00]), .int(0))
        XCTAssertEqual(try one([0x8A, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x80]), .int(Int64.min))
        XCTAssertThrowsError(try one([0x8A, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 1]))
        XCTAssertEqual(try one([0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0]), .float(1.5))
        XCTAssertEqual(try one([0x88]), .bool(true))
    }
}
