import Foundation
import Numerics
@testable import Scenario
import XCTest

/// The strict JSON reader (issue 9): what it accepts equals what JSONSerialization reads, what it
/// rejects is named with line and column, and it is fast.
final class JSONReaderTests: XCTestCase {
    func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8), file: "t.json") }

    /// The message of the error `bytes` gives, or nil when it parses.
    func message(_ bytes: [UInt8]) -> String? {
        do {
            _ = try JSONValue.parse(Data(bytes), file: "t.json")
            return nil
        } catch {
            return "\(error)"
        }
    }

    func testValidDocumentsMatchJSONSerialization() throws {
        let docs = [
            #"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
            #"[1, -0, 0.5, -1.25e-3, 1E+2, 123456789012345678901234567890, 0.1, 1e308, 4.9e-324, 9007199254740993]"#,
            #""caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t""#,
            "  \n\t{ \"x\" :\r\n [ ] , \"y\":{}}  \n",
            "\"héllo 😀 ✓\"", "3", "null", "[[[[]]]]",
        ]
        for doc in docs {
            let mine = try parse(doc)
            let theirs = try JSONDecoder().decode(JSONValue.self, from: Data(doc.utf8))
            XCTAssertEqual(mine, theirs, doc)
            XCTAssertEqual(mine.text(), theirs.text(), doc)
        }
        XCTAssertEqual(try parse("9007199254740993"), .number(9007199254740992))
        XCTAssertEqual(try parse("0.1"), .number(0.1))
        XCTAssertEqual(try parse("-0").text(), "0")
        // A UTF-8 byte-order mark is skipped.
        XCTAssertEqual(try JSONValue.parse(Data([0xEF, 0xBB, 0xBF] + Array("[1]".utf8)), file: nil), .array([.number(1)]))
    }

    func testNumbersAreDoubleOfTheLexeme() throws {
        // Random lexemes: the reader's Double equals Double(String) bit for bit.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var lexeme = Bool.random(using: &rng) ? "-" : ""
            let digits = Int.random(in: 1...25, using: &rng)
            lexeme += String(Int.random(in: 1...9, using: &rng))
            for _ in 1..<digits { lexeme += String(Int.random(in: 0...9, using: &rng)) }
            if Bool.random(using: &rng) { lexeme += "." + String(Int.random(in: 0...99999, using: &rng)) }
            if Bool.random(using: &rng) { lexeme += "e" + String(Int.random(in: -300...270, using: &rng)) }
            guard case let .number(d) = try parse(lexeme) else { return XCTFail(lexeme) }
            XCTAssertEqual(d.bitPattern, Double(lexeme)!.bitPattern, lexeme)
        }
    }

    func testMalformedDocumentsAreRejectedWithLineAndColumn() {
        let cases: [(String, String)] = [
            ("", "line 1, column 1: the document is empty"),
            ("   ", "the document is empty"),
            ("{", "line 1, column 2: expected a key in double quotes, found end of input"),
            ("{\"a\" 1}", "line 1, column 6: expected ':' after the key, found '1'"),
            ("{\"a\": 1,}", "line 1, column 9: a trailing comma before '}'"),
            ("[1, 2,]", "line 1, column 7: a trailing comma before ']'"),
            ("[1 2]", "line 1, column 4: expected ',' or ']', found '2'"),
            ("[1,,2]", "line 1, column 4: expected a value"),
            ("{} {}", "line 1, column 4: unexpected '{' after the end of the JSON value"),
            ("1 2", "unexpected '2' after the end"),
            ("[1]\n\n  x", "line 3, column 3: unexpected 'x'"),
            ("01", "a number with a leading zero"),
            ("-01", "a number with a leading zero"),
            ("[00]", "a number with a leading zero"),
            ("1.", "a digit after the decimal point"),
            (".5", "expected a value"),
            ("1e", "a digit in the exponent"),
            ("1e+", "a digit in the exponent"),
            ("+1", "expected a value"),
            ("-", "a '-' not followed by a digit"),
            ("0x10", "'x' inside a number"),
            ("12Mbps", "'M' inside a number"),
            ("1e400", "a number too large for a 64-bit float"),
            ("-1e400", "a number too large"),
            ("NaN", "NaN and Infinity are not JSON numbers"),
            ("Infinity", "NaN and Infinity"),
            ("-Infinity", "NaN and Infinity"),
            ("nul", "expected a value"),
            ("tru", "expected a value"),
            ("truex", "after 'true'"),
            ("True", "expected a value"),
            ("'a'", "expected a value"),
            ("{'a': 1}", "expected a key in double quotes, found '''"),
            ("{a: 1}", "expected a key in double quotes, found 'a'"),
            ("[1] // c", "unexpected '/'"),
            ("/* c */ 1", "expected a value"),
            ("\"abc", "line 1, column 1: a string that is never closed"),
            ("\"a\\\"", "a string that is never closed"),
            ("\"a\tb\"", "a raw control character U+0009"),
            ("\"a\nb\"", "a raw control character U+000A"),
            ("\"\\x\"", "an invalid escape '\\x'"),
            ("\"\\u12\"", "a \\u escape needs four hex digits"),
            ("\"\\u12G4\"", "four hex digits"),
            ("\"\\ud800\"", "a lone high surrogate \\uD800"),
            ("\"\\ud800x\"", "a lone high surrogate"),
            ("\"\\ud800\\u0041\"", "followed by \\u0041, not a low surrogate"),
            ("\"\\udc00\"", "a lone low surrogate \\uDC00"),
            ("[", "expected a value, found end of input"),
            ("]", "expected a value"),
            ("{\"a\":1}}", "unexpected '}'"),
        ]
        for (doc, fragment) in cases {
            guard let m = message(Array(doc.utf8)) else { XCTFail("accepted \(doc)"); continue }
            XCTAssertTrue(m.contains(fragment), "\(doc): '\(fragment)' missing from \(m)")
            XCTAssertTrue(m.hasPrefix("t.json: not valid JSON: line "), m)
        }
    }

    func testInvalidUTF8IsRejected() {
        let bad: [[UInt8]] = [
            [0x22, 0xC3, 0x28, 0x22],                // truncated 2-byte sequence
            [0x22, 0xC0, 0xAF, 0x22],                // overlong '/'
            [0x22, 0xE0, 0x80, 0xAF, 0x22],          // overlong 3-byte
            [0x22, 0xED, 0xA0, 0x80, 0x22],          // encoded surrogate U+D800
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],    // past U+10FFFF
            [0x22, 0xF8, 0x88, 0x80, 0x80, 0x80, 0x22],
            [0x22, 0x80, 0x22],                      // stray continuation byte
            [0x22, 0xFF, 0x22],
            [0x22, 0x61, 0x5C, 0x6E, 0xC3, 0x22],    // invalid after an escape (slow path)
        ]
        for bytes in bad {
            guard let m = message(bytes) else { XCTFail("accepted \(bytes)"); continue }
            XCTAssertTrue(m.contains("invalid UTF-8"), m)
        }
        XCTAssertTrue(message([0x5B, 0xC3, 0x28, 0x5D])?.contains("not valid UTF-8") == true)
        // Column counts characters, not bytes.
        XCTAssertTrue(message(Array("[\"é\", x]".utf8))?.contains("line 1, column 7") == true, message(Array("[\"é\", x]".utf8)) ?? "")
    }

    func testDuplicateKeysNameThePathAndBothPositions() {
        let m = message(Array("{\"a\": {\"list\": [{\"k\": 1,\n  \"k\": 2}]}}".utf8)) ?? ""
        XCTAssertEqual(m, "t.json: a.list[0]: expected each key at most once (a repeated key is ambiguous), found 'k' twice: line 1, column 18 and line 2, column 3")
        XCTAssertTrue(message(Array("{\"x\": 1, \"x\": 1}".utf8))?.contains("(top level)") == true)
        // The same key in different objects is fine.
        XCTAssertNil(message(Array("[{\"x\": 1}, {\"x\": 2}, {\"y\": {\"x\": 3}}]".utf8)))
        // Keys equal after unescaping are duplicates.
        XCTAssertNotNil(message(Array("{\"\\u0061\": 1, \"a\": 2}".utf8)))
    }

    func testNestingDepthIsBounded() throws {
        let ok = String(repeating: "[", count: JSONReader.maxDepth) + String(repeating: "]", count: JSONReader.maxDepth)
        XCTAssertNoThrow(try parse(ok))
        for deep in [JSONReader.maxDepth + 1, 100_000] {
            let m = message(Array((String(repeating: "[", count: deep) + String(repeating: "]", count: deep)).utf8)) ?? ""
            XCTAssertTrue(m.contains("nested more than 256 deep"), String(m.prefix(200)))
        }
        let objects = String(repeating: "{\"a\":", count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        XCTAssertTrue(message(Array(objects.utf8))?.contains("nested more than 256 deep") == true)
    }

    func testMessagesEchoAtMost200CharactersOfInput() throws {
        let key = String(repeating: "k", count: 10_000)
        let doc = "{\"name\": \"x\", \"\(key)\": 1, \"workload\": {\"payload\": {\"model\": \"gpt2\", \"rank\": 4, \"targets\": [\"c_attn\"]}}}"
        do {
            _ = try ScenarioParser.parse(try parse(doc))
            XCTFail("accepted")
        } catch let e as InputError {
            XCTAssertLessThan(e.description.count, 400, e.description)
            XCTAssertTrue(e.description.contains(String(repeating: "k", count: 200) + "…"))
        }
        let dup = "{\"\(key)\": 1, \"\(key)\": 2}"
        let m = message(Array(dup.utf8)) ?? ""
        XCTAssertLessThan(m.count, 400, m)
        XCTAssertEqual(InputError.clipped("abc", 2), "ab…")
        XCTAssertEqual(InputError.clipped("a\nb"), "a?b")
    }

    /// A 1 MB document parses in well under 100 ms (in a release build; debug builds are slower,
    /// so the bound checked here is loose).
    func testOneMegabyteIsFast() throws {
        var parts: [String] = []
        var i = 0
        var size = 0
        while size < 1_000_000 {
            let item = "{\"id\": \(i), \"name\": \"client-\(i)\", \"rate\": \"\(Double(i) * 1.5)Mbps\", \"values\": [1.25, -3e-4, \(i), true, null]}"
            parts.append(item)
            size += item.utf8.count + 2
            i += 1
        }
        let data = Data(("[" + parts.joined(separator: ",\n") + "]").utf8)
        let start = Date()
        let value = try JSONValue.parse(data, file: nil)
        let elapsed = Date().timeIntervalSince(start)
        guard case let .array(items) = value else { return XCTFail() }
        XCTAssertEqual(items.count, i)
        XCTAssertEqual(value, try JSONDecoder().decode(JSONValue.self, from: data))
        print("JSONReader: \(data.count) bytes in \(Int(elapsed * 1000)) ms")
        XCTAssertLessThan(elapsed, 2.0)
    }
}
