import Foundation
@testable import Learning
import Numerics
import XCTest

/// The byte tokenizer, the window batcher and the fortune reader.
final class TransformerDataTests: XCTestCase {
    func testByteTokenizerRoundTrips() {
        let text = "Grüße, ¿qué tal? Привет %"
        XCTAssertEqual(ByteTokenizer.decode(ByteTokenizer.encode(text)), text)
        XCTAssertEqual(ByteTokenizer.encode("é"), [0xC3, 0xA9])
    }

    func testWindowsAreConsecutiveTokensAndSeeded() throws {
        let tokens = (0..<100).map { UInt8($0) }
        let b = try WindowBatcher(tokens: tokens, context: 9)
        let w = b.batch(5, stream: RandomStream(seed: 3, purpose: "t"))
        XCTAssertEqual(w.count, 50)
        for k in 0..<5 {
            let row = Array(w[(k * 10)..<(k * 10 + 10)])
            XCTAssertEqual(row, (0..<10).map { row[0] + Int32($0) })
            XCTAssertLessThanOrEqual(row[9], 99)
        }
        XCTAssertEqual(w, b.batch(5, stream: RandomStream(seed: 3, purpose: "t")))
        XCTAssertNotEqual(w, b.batch(5, stream: RandomStream(seed: 4, purpose: "t")))
        let held = b.sequentialWindows()
        XCTAssertEqual(held.count, 10)
        XCTAssertEqual(held.windows, (0..<100).map { Int32($0) })
        XCTAssertEqual(b.sequentialWindows(limit: 2).windows.count, 20)
        XCTAssertThrowsError(try WindowBatcher(tokens: Array(tokens.prefix(9)), context: 9))
        XCTAssertNoThrow(try WindowBatcher(tokens: Array(tokens.prefix(10)), context: 9))
        XCTAssertThrowsError(try WindowBatcher(tokens: tokens, context: 0))
    }

    func testFortuneEntries() throws {
        let text = "First one.\n%\nSecond,\n  two lines.\r\n%\r\n%\n\nThird after a blank.\n%\n"
        let entries = try FortuneFile.parse(Array(text.utf8)).map(ByteTokenizer.decode)
        XCTAssertEqual(entries, ["First one.", "Second,\n  two lines.", "\nThird after a blank."])
        XCTAssertEqual(try FortuneFile.parse(Array("no separator".utf8)).map(ByteTokenizer.decode), ["no separator"])
        XCTAssertEqual(try FortuneFile.parse([]).count, 0)
        // A line "%%" or " %" is text, not a separator.
        XCTAssertEqual(try FortuneFile.parse(Array("a\n%%\n %\nb".utf8)).count, 1)
        XCTAssertThrowsError(try FortuneFile.parse(Array(String(repeating: "x", count: 50).utf8), maximumEntryBytes: 10))
    }

    func testFortuneFileErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fortune-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func problem(_ body: () throws -> Void) -> String {
            do { try body(); return "none" } catch let e as InputError {
                if case let .file(_, reason) = e.problem { return reason }
                return "\(e)"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(problem { _ = try FortuneFile.read(dir.path + "/missing") }, "does not exist")
        let empty = dir.appendingPathComponent("empty").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data("%\n%\n".utf8))
        XCTAssertTrue(problem { _ = try FortuneFile.read(empty) }.contains("no fortune"))
        let big = dir.appendingPathComponent("big").path
        _ = FileManager.default.createFile(atPath: big, contents: Data(repeating: 65, count: 2000))
        XCTAssertTrue(problem { _ = try FortuneFile.read(big, maximumBytes: 1000) }.contains("larger than 1000"))
        XCTAssertEqual(try FortuneFile.read(big).count, 1)
        do { _ = try FortuneFile.read(big, keyPath: "corpora.de", maximumEntryBytes: 100); XCTFail("accepted") } catch let e as InputError {
            XCTAssertEqual(e.keyPath, "corpora.de")
            guard case let .file(path, reason) = e.problem else { return XCTFail("\(e)") }
            XCTAssertEqual(path, big)
            XCTAssertTrue(reason.contains("more than 100 bytes"), reason)
        }
    }

    /// Debian's fortunes, when installed, read cleanly (skipped otherwise).
    func testDebianFortunesReadWhenInstalled() throws {
        let path = "/usr/share/games/fortunes/de/anekdoten"
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("fortunes-de not installed") }
        let entries = try FortuneFile.read(path)
        XCTAssertGreaterThan(entries.count, 10)
        XCTAssertFalse(entries.contains { $0.contains(UInt8(ascii: "%")) && $0.count == 1 })
    }
}
