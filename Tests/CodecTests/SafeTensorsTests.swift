import Foundation
import LoRA
import Numerics
import XCTest
@testable import Codec

/// A safetensors file assembled byte by byte, independent of the writer: 8-byte little-endian length, header, data.
private func rawFile(_ header: String, _ data: [UInt8] = []) -> Data {
    let h = Array(header.utf8)
    let length = (0..<8).map { UInt8((UInt64(h.count) >> (8 * UInt64($0))) & 0xFF) }
    return Data(length + h + data)
}

/// Little-endian bytes of `x`'s Float32 bit pattern, written out by hand.
private func f32Bytes(_ x: Float) -> [UInt8] { (0..<4).map { UInt8((x.bitPattern >> (8 * UInt32($0))) & 0xFF) } }

/// IEEE binary16 bits of `x` as the writer stores them.
private func f16Bits(_ x: Float) -> UInt16 { Float16(x).bitPattern }

/// Reference bfloat16 rounding, computed from distances in Double rather than by the writer's bit trick.
private func referenceBF16(_ x: Float) -> Float {
    let truncated = x.bitPattern & 0xFFFF_0000
    let low = Float(bitPattern: truncated), high = Float(bitPattern: truncated + 0x1_0000)
    let dLow = abs(Double(x) - Double(low)), dHigh = abs(Double(high) - Double(x))
    if dLow != dHigh { return dLow < dHigh ? low : high }
    return (truncated >> 16) & 1 == 0 ? low : high
}

final class SafeTensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The error reading `data` throws (nil, and a failure, if it reads).
    private func readError(_ data: Data, name: String = "bad.safetensors", line: UInt = #line) -> SafeTensorsError? {
        do {
            _ = try SafeTensorsFile.read(data: data, name: name)
            XCTFail("expected a SafeTensorsError", line: line)
            return nil
        } catch { return error }
    }

    private func assertMentions(_ error: CustomStringConvertible?, _ words: [String], line: UInt = #line) {
        let text = error?.description ?? ""
        for word in words { XCTAssertTrue(text.contains(word), "'\(text)' should mention '\(word)'", line: line) }
    }

    private let sample: [Float] = (0..<300).map { i in
        Float(sin(Double(i) * 1.37) * pow(10, Double(i % 11 - 6)))
    }

    // MARK: Round trips through files

    func testF32RoundTripIsExact() throws {
        let values: [Float] = [0, -0.0, 1, -1.5, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 3.1415927, -1e-20]
        var file = SafeTensorsFile(metadata: ["format": "pt", "note": "quote \" backslash \\ tab\t é"])
        file.tensors["x"] = .init(dtype: .f32, shape: [2, 4], values: values)
        file.tensors["scalar"] = .init(dtype: .f32, shape: [], values: [42])
        file.tensors["empty"] = .init(dtype: .f32, shape: [0, 3], values: [])
        file.tensors["name \"quoted\" ü"] = .init(dtype: .f32, shape: [300], values: sample)
        try file.write(to: path("f32.safetensors"))
        let back = try SafeTensorsFile.read(contentsOf: path("f32.safetensors"))
        XCTAssertEqual(back, file)
        XCTAssertEqual(back.tensors["x"]!.values.map(\.bitPattern), values.map(\.bitPattern), "-0.0 keeps its sign bit")
    }

    func testF16RoundTripEqualsRoundedValues() throws {
        let file = SafeTensorsFile(tensors: ["h": .init(dtype: .f16, shape: [3, 100], values: sample)])
        try file.write(to: path("f16.safetensors"))
        let back = try SafeTensorsFile.read(contentsOf: path("f16.safetensors")).tensors["h"]!
        XCTAssertEqual(back.dtype, .f16)
        XCTAssertEqual(back.shape, [3, 100])
        XCTAssertEqual(back.values, sample.map { Float(Float16($0)) })
        for (x, y) in zip(sample, back.values) where abs(x) >= Float(Float16.leastNormalMagnitude) {
            XCTAssertLessThanOrEqual(abs(x - y), abs(x) * 0x1p-11, "within half an F16 ulp of \(x)")
        }
        XCTAssertNotEqual(back.values, sample, "F16 must actually round")
    }

    func testBF16RoundTripEqualsRoundedValues() throws {
        let file = SafeTensorsFile(tensors: ["b": .init(dtype: .bf16, shape: [300], values: sample)])
        try file.write(to: path("bf16.safetensors"))
        let back = try SafeTensorsFile.read(contentsOf: path("bf16.safetensors")).tensors["b"]!
        XCTAssertEqual(back.dtype, .bf16)
        XCTAssertEqual(back.values, sample.map(referenceBF16))
        XCTAssertEqual(back.values, sample.map(SafeTensorsDType.bf16.rounded))
    }

    func testWriteReplacesAnExistingFileAndLeavesNoTemporaries() throws {
        try SafeTensorsFile(tensors: ["a": .init(dtype: .f32, shape: [1], values: [1])]).write(to: path("w.safetensors"))
        try SafeTensorsFile(tensors: ["b": .init(dtype: .f32, shape: [1], values: [2])]).write(to: path("w.safetensors"))
        XCTAssertEqual(try SafeTensorsFile.read(contentsOf: path("w.safetensors")).tensors.keys.sorted(), ["b"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["w.safetensors"])
    }

    // MARK: Hand-built bytes and exact output

    func testReadsHandBuiltBuffer() throws {
        // Keys out of order, data not in name order, an escaped metadata value, spaces after the JSON.
        let header = #"{"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"#
            + #""data_offsets":[0,8]},"__metadata__":{"format":"pt","who":"caf\u00e9 \"x\""},"#
            + #""h":{"shape":[1,2],"data_offsets":[12,16],"dtype":"F16"}}   "#
        let data: [UInt8] = [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0,  // F32 1.0, -2.5
                             0x00, 0x3F, 0x40, 0xC0,                          // BF16 0.5, -3.0
                             0x00, 0x3C, 0xFF, 0x7B]                          // F16 1.0, 65504
        let file = try SafeTensorsFile.read(data: rawFile(header, data), name: "hand.safetensors")
        XCTAssertEqual(file.metadata, ["format": "pt", "who": "café \"x\""])
        XCTAssertEqual(file.tensors["a"], .init(dtype: .f32, shape: [2], values: [1, -2.5]))
        XCTAssertEqual(file.tensors["b"], .init(dtype: .bf16, shape: [2], values: [0.5, -3]))
        XCTAssertEqual(file.tensors["h"], .init(dtype: .f16, shape: [1, 2], values: [1, 65504]))
        XCTAssertEqual(file.sortedNames, ["a", "b", "h"])
    }

    func testSerializedBytesAreExactAndDeterministic() throws {
        var first = SafeTensorsFile(metadata: ["format": "pt"])
        first.tensors["b"] = .init(dtype: .f32, shape: [1], values: [1])
        first.tensors["a"] = .init(dtype: .bf16, shape: [2], values: [1, 2])
        var second = SafeTensorsFile(metadata: ["format": "pt"])
        second.tensors["a"] = first.tensors["a"]
        second.tensors["b"] = first.tensors["b"]

        var header = #"{"__metadata__":{"format":"pt"},"a":{"data_offsets":[0,4],"dtype":"BF16","shape":[2]},"#
            + #""b":{"data_offsets":[4,8],"dtype":"F32","shape":[1]}}"#
        header += String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        let expected = rawFile(header, [0x80, 0x3F, 0x00, 0x40] + f32Bytes(1))
        let bytes = try first.serialized()
        XCTAssertEqual(bytes, expected)
        XCTAssertEqual(try second.serialized(), bytes)
        XCTAssertEqual(header.utf8.count % 8, 0)
    }

    // MARK: Rounding rules

    func testBF16RoundsToNearestEven() {
        let bf16 = SafeTensorsDType.bf16
        XCTAssertEqual(bf16.rounded(1 + 0x1p-8), 1, "a tie rounds down to the even 1.0")
        XCTAssertEqual(bf16.rounded(1 + 3 * 0x1p-8), 1 + 0x1p-6, "a tie rounds up to the even neighbour")
        XCTAssertEqual(bf16.rounded(1 + 0x1p-8 + 0x1p-20), 1 + 0x1p-7, "above a tie rounds up")
        XCTAssertEqual(bf16.rounded(-(1 + 3 * 0x1p-8)), -(1 + 0x1p-6))
        XCTAssertEqual(bf16.rounded(.greatestFiniteMagnitude), .infinity)
        XCTAssertEqual(ValueType.floatToBFloat16(1), 0x3F80)
        let signalling = Float(bitPattern: 0x7F80_0001)   // truncation alone would make this +inf
        XCTAssertTrue(bf16.rounded(signalling).isNaN)
        XCTAssertEqual(ValueType.floatToBFloat16(signalling) & 0x0040, 0x0040, "quiet bit set")
        XCTAssertTrue(bf16.rounded(Float(bitPattern: 0xFFFF_FFFF)).isNaN, "a NaN with all-ones payload must not carry into the sign")
    }

    func testF16RoundingOverflowAndSubnormals() {
        let f16 = SafeTensorsDType.f16
        XCTAssertEqual(f16.rounded(1 + 0x1p-11), 1, "tie to even")
        XCTAssertEqual(f16.rounded(1 + 3 * 0x1p-11), 1 + 0x1p-9, "tie to even, upwards")
        XCTAssertEqual(f16.rounded(65519), 65504)
        XCTAssertEqual(f16.rounded(65520), .infinity, "the tie above the largest F16 overflows")
        XCTAssertEqual(f16Bits(70000), 0x7C00, "70000 overflows to +inf")
        XCTAssertEqual(f16Bits(-70000), 0xFC00)
        XCTAssertEqual(f16Bits(0x1p-14), 0x0400, "smallest normal")
        XCTAssertEqual(f16Bits(0x1p-24), 0x0001, "smallest subnormal")
        XCTAssertEqual(f16Bits(0x1p-25), 0x0000, "half the smallest subnormal ties to even zero")
        XCTAssertEqual(f16Bits(3 * 0x1p-25), 0x0002, "1.5 subnormal ulps ties to even 2")
        XCTAssertEqual(f16Bits(5 * 0x1p-26), 0x0001, "1.25 ulps rounds down")
    }

    func testWriterStoresRoundedBitPatterns() throws {
        var file = SafeTensorsFile()
        file.tensors["b"] = .init(dtype: .bf16, shape: [2], values: [1 + 0x1p-8, 1 + 3 * 0x1p-8])
        file.tensors["h"] = .init(dtype: .f16, shape: [3], values: [1 + 0x1p-11, 3 * 0x1p-25, 65519])
        let bytes = Array(try file.serialized())
        XCTAssertEqual(Array(bytes.suffix(10)), [0x80, 0x3F, 0x82, 0x3F,            // BF16 1.0, 1 + 2^-6
                                                  0x00, 0x3C, 0x02, 0x00, 0xFF, 0x7B]) // F16 1.0, 2^-23, 65504
    }

    func testSubnormalF16ValuesSurviveAFile() throws {
        let values: [Float] = [0x1p-24, 3 * 0x1p-24, -0x1p-15, 0x1p-14]
        try SafeTensorsFile(tensors: ["s": .init(dtype: .f16, shape: [4], values: values)]).write(to: path("sub.safetensors"))
        XCTAssertEqual(try SafeTensorsFile.read(contentsOf: path("sub.safetensors")).tensors["s"]?.values, values)
    }

    func testWriterRejectsUnrepresentableValues() {
        let name = path("over.safetensors")
        let big = SafeTensorsFile(tensors: ["big": .init(dtype: .f16, shape: [2], values: [1, 70000])])
        XCTAssertThrowsError(try big.write(to: name)) { error in
            XCTAssertEqual(error as? SafeTensorsError,
                           .notRepresentable(file: name, tensor: "big", index: 1, value: 70000, dtype: .f16))
            assertMentions(error as? SafeTensorsError, [name, "big", "F16"])
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: name), "nothing written on error")
        let nan = SafeTensorsFile(tensors: ["n": .init(dtype: .bf16, shape: [3], values: [0, 1, .nan])])
        XCTAssertThrowsError(try nan.serialized(name: "mem")) { error in
            guard case .nonFinite("mem", "n", 2, _)? = error as? SafeTensorsError else { return XCTFail("\(error)") }
        }
        let short = SafeTensorsFile(tensors: ["s": .init(dtype: .f32, shape: [2, 2], values: [1])])
        XCTAssertThrowsError(try short.serialized(name: "mem")) { error in
            guard case .invalidTensor("mem", "s", _)? = error as? SafeTensorsError else { return XCTFail("\(error)") }
            assertMentions(error as? SafeTensorsError, ["needs 4 values, found 1"])
        }
    }

    // MARK: Malformed files

    func testTruncatedFile() {
        let error = readError(Data([1, 2, 3, 4, 5]), name: "t.safetensors")
        XCTAssertEqual(error, .truncated(file: "t.safetensors", size: 5))
        assertMentions(error, ["t.safetensors", "at least 8"])
    }

    func testHeaderLengthPastEndOfFile() {
        let data = Data([100, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"a":1}   "#.utf8))
        let error = readError(data, name: "p.safetensors")
        XCTAssertEqual(error, .headerPastEnd(file: "p.safetensors", headerLength: 100, fileSize: 18))
        assertMentions(error, ["p.safetensors", "100", "at most 10"])
        XCTAssertEqual(readError(Data([255, 255, 255, 255, 255, 255, 255, 255])),
                       .headerPastEnd(file: "bad.safetensors", headerLength: .max, fileSize: 8))
    }

    func testBadJSONAndNonObjectHeaders() {
        for header in [#"{"w":{"dtype":"F32",}}"#, #"{"w":{"dtype":"F32"}"#, "{'w':1}", #"{"w":01}"#, "{} x", ""] {
            guard case let .invalidHeader(file, reason)? = readError(rawFile(header), name: "j.safetensors") else {
                XCTFail("expected invalidHeader for \(header)"); continue
            }
            XCTAssertEqual(file, "j.safetensors")
            XCTAssertTrue(reason.contains("not valid JSON at byte"), reason)
        }
        let array = readError(rawFile("[1, 2]"), name: "j.safetensors")
        XCTAssertEqual(array, .invalidHeader(file: "j.safetensors", reason: "expected a JSON object, found an array of 2"))
        assertMentions(array, ["j.safetensors", "JSON object"])
        guard case .invalidHeader(_, let reason)? = readError(Data([2, 0, 0, 0, 0, 0, 0, 0, 0xC3, 0x28])) else {
            return XCTFail("invalid UTF-8 must be rejected")
        }
        XCTAssertTrue(reason.contains("UTF-8"))
    }

    func testMissingFields() {
        let cases = [("dtype", #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#),
                     ("shape", #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#),
                     ("data_offsets", #"{"w":{"dtype":"F32","shape":[1]}}"#)]
        for (field, header) in cases {
            let error = readError(rawFile(header, f32Bytes(1)), name: "m.safetensors")
            XCTAssertEqual(error, .missingField(file: "m.safetensors", tensor: "w", field: field))
            assertMentions(error, ["m.safetensors", "'w'", field])
        }
    }

    func testMalformedFieldValues() {
        let cases = [#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
                     #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}"#,
                     #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#,
                     #"{"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}"#,
                     #"{"w":[1]}"#]
        for header in cases {
            guard case let .invalidField(file, tensor, _, _, _)? = readError(rawFile(header, f32Bytes(1))) else {
                XCTFail("expected invalidField for \(header)"); continue
            }
            XCTAssertEqual([file, tensor], ["bad.safetensors", "w"])
        }
        let meta = readError(rawFile(#"{"__metadata__":{"n":1}}"#))
        XCTAssertEqual(meta, .invalidField(file: "bad.safetensors", tensor: "__metadata__", field: "n",
                                           expected: "a string", found: "the number 1"))
    }

    func testUnsupportedDType() throws {
        // I64 is a format dtype: kept as bytes (PEFTFile carries it as an extra), not refused.
        let ids = try SafeTensorsFile.read(data: rawFile(#"{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 8)),
                                           name: "u.safetensors")
        XCTAssertEqual(ids.raw["ids"], .init(dtype: .i64, shape: [1], bytes: Array(repeating: 0, count: 8)))
        let unknown = readError(rawFile(#"{"q":{"dtype":"Q7","shape":[],"data_offsets":[0,1]}}"#, [0]), name: "u.safetensors")
        XCTAssertEqual(unknown, .unsupportedDType(file: "u.safetensors", tensor: "q", dtype: "Q7"))
        assertMentions(unknown, ["u.safetensors", "'q'", "Q7", "not a safetensors dtype", "F32", "I64", "BOOL"])
    }

    func testOffsetsOutOfRangeOrMismatched() {
        let past = readError(rawFile(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, f32Bytes(1) + f32Bytes(2)),
                             name: "o.safetensors")
        XCTAssertEqual(past, .offsetsOutOfRange(file: "o.safetensors", tensor: "w", begin: 0, end: 16, dataSize: 8))
        assertMentions(past, ["o.safetensors", "'w'", "[0, 16]", "8"])
        let backwards = readError(rawFile(#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#, f32Bytes(1)))
        XCTAssertEqual(backwards, .offsetsOutOfRange(file: "bad.safetensors", tensor: "w", begin: 4, end: 0, dataSize: 4))
        let size = readError(rawFile(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, f32Bytes(1) + f32Bytes(2)))
        XCTAssertEqual(size, .sizeMismatch(file: "bad.safetensors", tensor: "w", shape: [3], dtype: "F32",
                                           expectedBytes: 12, actualBytes: 8))
        assertMentions(size, ["'w'", "12", "[3]"])
    }

    func testOverlapGapsAndUnusedBytes() {
        let two = f32Bytes(1) + f32Bytes(2) + f32Bytes(3)
        let overlap = readError(rawFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, two))
        XCTAssertEqual(overlap, .notContiguous(file: "bad.safetensors", tensor: "b", begin: 4, expected: 8))
        assertMentions(overlap, ["bad.safetensors", "'b'"])
        let gap = readError(rawFile(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, two))
        XCTAssertEqual(gap, .notContiguous(file: "bad.safetensors", tensor: "a", begin: 4, expected: 0))
        let unused = readError(rawFile(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, two))
        XCTAssertEqual(unused, .unusedData(file: "bad.safetensors", used: 4, dataSize: 12))
    }

    func testNonFiniteValuesAreRejected() {
        let data = f32Bytes(1) + f32Bytes(2) + f32Bytes(.nan)
        let error = readError(rawFile(#"{"ok":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"#
            + #""w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#, data), name: "n.safetensors")
        XCTAssertEqual(error, .nonFinite(file: "n.safetensors", tensor: "w", index: 2, value: "NaN"))
        assertMentions(error, ["n.safetensors", "'w'", "element 2 is NaN"])
        let inf = readError(rawFile(#"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, [0x00, 0x3C, 0x00, 0xFC]))
        XCTAssertEqual(inf, .nonFinite(file: "bad.safetensors", tensor: "h", index: 1, value: "-infinity"))
    }

    func testDuplicateNamesAreRejected() {
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#
            + #""w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let error = readError(rawFile(header, f32Bytes(1) + f32Bytes(2)), name: "d.safetensors")
        XCTAssertEqual(error, .duplicateName(file: "d.safetensors", tensor: "w"))
        assertMentions(error, ["d.safetensors", "'w'", "more than once"])
        // An escaped spelling of the same name is the same name.
        let escaped = readError(rawFile(header.replacingOccurrences(of: #","w""#, with: #","\u0077""#), f32Bytes(1) + f32Bytes(2)))
        XCTAssertEqual(escaped, .duplicateName(file: "bad.safetensors", tensor: "w"))
    }

    func testMissingFileNamesThePath() {
        XCTAssertThrowsError(try SafeTensorsFile.read(contentsOf: path("absent.safetensors"))) { error in
            guard case .io(let file, _)? = error as? SafeTensorsError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, path("absent.safetensors"))
        }
    }
}

final class PEFTAdapterTests: XCTestCase {
    private let prefix = "base_model.model.model.layers"

    /// A tensor with shape `shape` whose values count up from `start`.
    private func tensor(_ shape: [Int], start: Float = 0) -> SafeTensorsFile.Tensor {
        .init(dtype: .f32, shape: shape, values: (0..<shape.reduce(1, *)).map { start + Float($0) / 8 })
    }

    private func loraError(_ tensors: [String: SafeTensorsFile.Tensor], line: UInt = #line) -> PEFTError? {
        do {
            _ = try PEFTAdapter.loraAdapter(from: SafeTensorsFile(tensors: tensors), fileName: "adapter.safetensors")
            XCTFail("expected a PEFTError", line: line)
            return nil
        } catch { return error }
    }

    private func assertMentions(_ error: PEFTError?, _ words: [String], line: UInt = #line) {
        let text = error?.description ?? ""
        for word in words { XCTAssertTrue(text.contains(word), "'\(text)' should mention '\(word)'", line: line) }
    }

    func testPairsFactorsWithAndWithoutDefault() throws {
        for infix in ["", ".default"] {
            let file = SafeTensorsFile(tensors: [
                "\(prefix).0.self_attn.q_proj.lora_A\(infix).weight": tensor([2, 3]),
                "\(prefix).0.self_attn.q_proj.lora_B\(infix).weight": tensor([4, 2], start: 10),
                "\(prefix).0.self_attn.v_proj.lora_A\(infix).weight": tensor([1, 3], start: 20),
                "\(prefix).0.self_attn.v_proj.lora_B\(infix).weight": tensor([5, 1], start: 30),
                "base_model.model.lm_head.weight": tensor([2, 2]),
            ])
            let adapter = try PEFTAdapter.loraAdapter(from: file, fileName: "a.safetensors")
            XCTAssertEqual(adapter.shapes, [
                LoRALayerShape(name: "\(prefix).0.self_attn.q_proj", inFeatures: 3, outFeatures: 4, rank: 2),
                LoRALayerShape(name: "\(prefix).0.self_attn.v_proj", inFeatures: 3, outFeatures: 5, rank: 1),
            ])
            XCTAssertEqual(adapter.layers[0].a, Matrix(rows: 2, cols: 3, storage: tensor([2, 3]).values))
            XCTAssertEqual(adapter.layers[1].b[4, 0], 30.5)
            XCTAssertEqual(PEFTAdapter.ignoredTensorNames(in: file), ["base_model.model.lm_head.weight"])
        }
    }

    func testModulesAreInNaturalOrder() throws {
        var tensors: [String: SafeTensorsFile.Tensor] = [:]
        for layer in [10, 2, 1, 0, 11] {
            tensors["\(prefix).\(layer).mlp.lora_A.weight"] = tensor([1, 2])
            tensors["\(prefix).\(layer).mlp.lora_B.weight"] = tensor([2, 1])
        }
        let adapter = try PEFTAdapter.loraAdapter(from: SafeTensorsFile(tensors: tensors), fileName: "n.safetensors")
        XCTAssertEqual(adapter.shapes.map(\.name), [0, 1, 2, 10, 11].map { "\(prefix).\($0).mlp" })
        XCTAssertTrue(PEFTAdapter.naturalPrecedes("layers.2.q", "layers.10.a"))
        XCTAssertFalse(PEFTAdapter.naturalPrecedes("layers.10.a", "layers.2.q"))
        XCTAssertTrue(PEFTAdapter.naturalPrecedes("x.k_proj", "x.q_proj"))
        XCTAssertNotEqual(PEFTAdapter.naturalPrecedes("a02", "a2"), PEFTAdapter.naturalPrecedes("a2", "a02"), "total order")
        XCTAssertTrue(PEFTAdapter.naturalPrecedes("layers.9", "layers.9.x"))
    }

    func testMissingFactor() {
        let error = loraError(["m.lora_A.weight": tensor([2, 3]), "n.lora_B.default.weight": tensor([3, 2])])
        XCTAssertEqual(error, .missingFactor(file: "adapter.safetensors", module: "m", missing: .b, expectedKey: "m.lora_B.weight"))
        assertMentions(error, ["adapter.safetensors", "'m'", "lora_B is missing"])
    }

    func testRankMismatch() {
        let error = loraError(["q.lora_A.weight": tensor([4, 8]), "q.lora_B.weight": tensor([16, 2])])
        XCTAssertEqual(error, .rankMismatch(file: "adapter.safetensors", module: "q", rankA: 4, rankB: 2))
        assertMentions(error, ["adapter.safetensors", "'q'", "rank 4", "rank 2"])
    }

    func testShapeProblems() {
        let flat = loraError(["q.lora_A.weight": tensor([8]), "q.lora_B.weight": tensor([16, 1])])
        XCTAssertEqual(flat, .notMatrix(file: "adapter.safetensors", tensor: "q.lora_A.weight", shape: [8], expected: "[r, d_in]"))
        assertMentions(flat, ["adapter.safetensors", "'q.lora_A.weight'", "1-D", "[r, d_in]"])
        let empty = loraError(["q.lora_A.weight": tensor([0, 8]), "q.lora_B.weight": tensor([16, 0])])
        XCTAssertEqual(empty, .emptyDimension(file: "adapter.safetensors", tensor: "q.lora_A.weight", shape: [0, 8]))
        let twice = loraError(["q.lora_A.weight": tensor([1, 2]), "q.lora_A.default.weight": tensor([1, 2]),
                               "q.lora_B.weight": tensor([2, 1])])
        XCTAssertEqual(twice, .duplicateFactor(file: "adapter.safetensors", module: "q", matrix: .a,
                                               keys: ["q.lora_A.default.weight", "q.lora_A.weight"]))
        let none = loraError(["embed.weight": tensor([2, 2])])
        XCTAssertEqual(none, .noLoRATensors(file: "adapter.safetensors", tensorCount: 1))
    }

    func testUnsupportedDTypeInAdapterFileNamesFileAndTensor() throws {
        let bytes = rawFile(#"{"q.lora_A.weight":{"dtype":"F64","shape":[1,1],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 8))
        let f64 = FileManager.default.temporaryDirectory.appendingPathComponent("peft-\(UUID().uuidString).safetensors").path
        try bytes.write(to: URL(fileURLWithPath: f64))
        defer { try? FileManager.default.removeItem(atPath: f64) }
        // F64 is read, but a LoRA factor must be a float type the codecs encode.
        XCTAssertThrowsError(try PEFTAdapter.loraAdapter(contentsOf: f64)) { error in
            XCTAssertEqual(error as? PEFTError, .factorDType(file: f64, tensor: "q.lora_A.weight", dtype: "F64"))
        }
        let unknown = rawFile(#"{"q.lora_A.weight":{"dtype":"F65","shape":[1,1],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 8))
        let name = FileManager.default.temporaryDirectory.appendingPathComponent("peft-\(UUID().uuidString).safetensors").path
        try unknown.write(to: URL(fileURLWithPath: name))
        defer { try? FileManager.default.removeItem(atPath: name) }
        XCTAssertThrowsError(try PEFTAdapter.loraAdapter(contentsOf: name)) { error in
            XCTAssertEqual(error as? SafeTensorsError, .unsupportedDType(file: name, tensor: "q.lora_A.weight", dtype: "F65"))
        }
    }

    func testAdapterRoundTripsThroughFiles() throws {
        let shapes = [LoRALayerShape(name: "\(prefix).0.self_attn.q_proj", inFeatures: 6, outFeatures: 5, rank: 2),
                      LoRALayerShape(name: "\(prefix).10.mlp.down_proj", inFeatures: 7, outFeatures: 3, rank: 4)]
        var adapter = LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(seed: 7, purpose: "peft-test"))
        adapter.layers[1].b = Matrix(rows: 3, cols: 4) { i, j in Float(i * 4 + j) / 3 }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("peft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for dtype in SafeTensorsDType.allCases {
            let file = PEFTAdapter.safetensors(from: adapter, dtype: dtype)
            XCTAssertEqual(file.metadata, ["format": "pt"])
            XCTAssertEqual(file.tensors["\(prefix).10.mlp.down_proj.lora_B.weight"]?.shape, [3, 4])
            let path = directory.appendingPathComponent("\(dtype).safetensors").path
            try file.write(to: path)
            let back = try PEFTAdapter.loraAdapter(contentsOf: path)
            XCTAssertEqual(back.shapes, shapes)
            for (x, y) in zip(adapter.layers, back.layers) {
                XCTAssertEqual(y.a.storage, x.a.storage.map(dtype.rounded))
                XCTAssertEqual(y.b.storage, x.b.storage.map(dtype.rounded))
            }
            if dtype == .f32 { XCTAssertEqual(back, adapter) } else { XCTAssertNotEqual(back, adapter) }
        }
    }

    func testCompatibility() throws {
        let q = LoRALayerShape(name: "q", inFeatures: 4, outFeatures: 4, rank: 2)
        let v = LoRALayerShape(name: "v", inFeatures: 4, outFeatures: 6, rank: 2)
        let before = LoRAAdapter.zeros([q, v])
        XCTAssertNoThrow(try PEFTAdapter.compatible(before, .zeros([q, v]), beforeName: "b.st", afterName: "a.st"))

        var wider = v
        wider.rank = 8
        XCTAssertThrowsError(try PEFTAdapter.compatible(before, .zeros([q, wider]), beforeName: "b.st", afterName: "a.st")) { error in
            XCTAssertEqual(error as? PEFTError, .shapeMismatch(module: "v", beforeFile: "b.st", before: v, afterFile: "a.st", after: wider))
            assertMentions(error as? PEFTError, ["'v'", "b.st", "a.st", "r=2", "r=8"])
        }
        XCTAssertThrowsError(try PEFTAdapter.compatible(before, .zeros([q]), beforeName: "b.st", afterName: "a.st")) { error in
            XCTAssertEqual(error as? PEFTError, .moduleMissing(module: "v", presentIn: "b.st", missingFrom: "a.st"))
        }
        XCTAssertThrowsError(try PEFTAdapter.compatible(before, .zeros([v, q]), beforeName: "b.st", afterName: "a.st")) { error in
            XCTAssertEqual(error as? PEFTError, .moduleOrder(index: 0, beforeModule: "q", afterModule: "v", beforeFile: "b.st", afterFile: "a.st"))
        }
        XCTAssertThrowsError(try PEFTAdapter.compatible(before, .zeros([q, v, v]), beforeName: "b.st", afterName: "a.st")) { error in
            XCTAssertEqual(error as? PEFTError, .moduleOrder(index: 2, beforeModule: "(end)", afterModule: "v", beforeFile: "b.st", afterFile: "a.st"))
        }
    }
}
