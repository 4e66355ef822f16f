import Foundation

/// A report as blocks of inline spans: what `report.md`, `report.html` and `sweep.md` are
/// rendered from (`markdown`, `html`). Text spans hold plain text — anything, including a
/// hostile name: each renderer makes it inert (one line, escaped) on the way out.
public struct ReportDocument: Sendable, Equatable {
    /// A run of text inside a block.
    public enum Inline: Sendable, Equatable {
        /// Plain text (control characters are shown as spaces, at most `textLimit` characters).
        case text(String)
        /// Literal code (a fixed text of FedSim's, never user text).
        case code(String)
        case strong([Inline])
        case link([Inline], url: String)
    }

    public enum Alignment: Sendable, Equatable { case left, right }

    /// A table: a header row, the alignment of each column, the rows.
    public struct Table: Sendable, Equatable {
        public var header: [[Inline]]
        public var alignments: [Alignment]
        public var rows: [[[Inline]]]
        public init(header: [[Inline]], alignments: [Alignment], rows: [[[Inline]]]) {
            self.header = header
            self.alignments = alignments
            self.rows = rows
        }
    }

    /// An image: an SVG file next to the report (inline in the HTML when `svg` is given).
    public struct Figure: Sendable, Equatable {
        public var path: String
        public var caption: String
        public var svg: String?
        public init(path: String, caption: String, svg: String?) {
            self.path = path
            self.caption = caption
            self.svg = svg
        }
    }

    public enum Block: Sendable, Equatable {
        case heading(level: Int, [Inline])
        case paragraph([Inline])
        /// A bulleted list, one item per element.
        case list([[Inline]])
        case table(Table)
        case figure(Figure)
    }

    /// The page title (the HTML `<title>`).
    public var title: String
    public var blocks: [Block]

    public init(title: String, blocks: [Block] = []) {
        self.title = title
        self.blocks = blocks
    }

    /// The longest text span shown whole; longer ones are cut and end in "…".
    public static let textLimit = 2000

    /// A text span's characters as shown: one line (each character holding a control character
    /// becomes a space), at most `textLimit` characters.
    static func shown(_ s: String) -> String {
        let cut = PlainText.withoutControlCharacters(String(s.prefix(textLimit)))
        return s.count > textLimit ? cut + "…" : cut
    }
}

// MARK: Markdown

extension ReportDocument {
    /// The document as Markdown: blocks separated by an empty line; text spans with Markdown's
    /// active characters backslash-escaped, so no user text can start a heading, a list or a table.
    public var markdown: String {
        blocks.map(Self.markdown).joined(separator: "\n")
    }

    static func markdown(_ block: Block) -> String {
        switch block {
        case let .heading(level, spans): return String(repeating: "#", count: max(1, level)) + " " + markdown(spans) + "\n"
        case let .paragraph(spans): return markdown(spans) + "\n"
        case let .list(items): return items.map { "- " + markdown($0) + "\n" }.joined()
        case let .table(t):
            func row(_ cells: [[Inline]]) -> String { "| " + cells.map(markdown).joined(separator: " | ") + " |\n" }
            return row(t.header) + "|" + t.alignments.map { $0 == .right ? "---:|" : "---|" }.joined() + "\n" + t.rows.map(row).joined()
        case let .figure(f): return "![\(markdownText(f.caption))](\(f.path))\n"
        }
    }

    static func markdown(_ spans: [Inline]) -> String {
        spans.map { span in
            switch span {
            case let .text(s): return markdownText(s)
            case let .code(s): return "`" + s + "`"
            case let .strong(inner): return "**" + markdown(inner) + "**"
            case let .link(inner, url): return "[" + markdown(inner) + "](" + url + ")"
            }
        }.joined()
    }

    /// Text as inert Markdown on one line: `\ ` * [ ] < > |` backslash-escaped, and a first
    /// character that could start a block (`# - + ! = ~`) too.
    static func markdownText(_ s: String) -> String {
        var out = ""
        for c in shown(s) {
            if "\\`*[]<>|".contains(c) { out.append("\\") }
            out.append(c)
        }
        if let first = out.first, "#-+!=~".contains(first) { out = "\\" + out }
        return out
    }
}

/// User text made safe to show.
enum PlainText {
    /// `s` with each character that holds a control character (and, with `format`, an invisible
    /// format character such as a bidirectional override) replaced by a space: user text that
    /// cannot end a line, start a terminal escape or reorder what is shown.
    static func withoutControlCharacters(_ s: String, format: Bool = false) -> String {
        String(s.map { c in
            c.unicodeScalars.contains { $0.properties.generalCategory == .control || (format && $0.properties.generalCategory == .format) } ? " " : c
        })
    }

    /// Text safe to print on a terminal: control characters (escape sequences) become spaces.
    static func printable(_ s: String) -> String { String(withoutControlCharacters(s).prefix(200)) }
}
