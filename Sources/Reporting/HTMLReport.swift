import Foundation

/// The document as a self-contained HTML page (plots' SVG inline, no external resources); every
/// text span is HTML-escaped, so user text is shown, never interpreted.
extension ReportDocument {
    public var html: String {
        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(Self.escape(title))</title>
        <style>
        body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
        table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
        th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; }
        td.r, th.r { text-align: right; }
        th { background: #f3f3f3; }
        figure { margin: 1.5em 0; } figcaption { color: #555; font-size: 0.9em; }
        svg { max-width: 100%; height: auto; }
        code { background: #f3f3f3; padding: 0 0.2em; }
        </style></head><body>

        """
        for block in blocks { html += Self.html(block) }
        return html + "</body></html>\n"
    }

    static func html(_ block: Block) -> String {
        switch block {
        case let .heading(level, spans):
            let h = "h\(min(6, max(1, level)))"
            return "<\(h)>\(html(spans))</\(h)>\n"
        case let .paragraph(spans):
            let inner = html(spans)
            return inner.isEmpty ? "" : "<p>\(inner)</p>\n"
        case let .list(items):
            guard !items.isEmpty else { return "" }
            return "<ul>\n" + items.map { "<li>\(html($0))</li>\n" }.joined() + "</ul>\n"
        case let .table(t):
            func row(_ cells: [[Inline]], _ tag: String) -> String {
                "<tr>" + cells.enumerated().map { i, cell in
                    let right = t.alignments.indices.contains(i) && t.alignments[i] == .right
                    // Cell text without surrounding blanks, as a Markdown table cell reads.
                    return "<\(tag)\(right ? " class=\"r\"" : "")>\(html(cell).trimmingCharacters(in: .whitespaces))</\(tag)>"
                }.joined() + "</tr>\n"
            }
            return "<table>\n" + row(t.header, "th") + t.rows.map { row($0, "td") }.joined() + "</table>\n"
        case let .figure(f):
            guard let svg = f.svg else { return "" }
            // The SVG element itself, without its XML declaration and doctype.
            let element = svg.range(of: "<svg").map { String(svg[$0.lowerBound...]) } ?? svg
            return "<figure>\(element)<figcaption>\(escape(shown(f.caption)))</figcaption></figure>\n"
        }
    }

    static func html(_ spans: [Inline]) -> String {
        spans.map { span in
            switch span {
            case let .text(s): return escape(shown(s))
            case let .code(s): return "<code>\(escape(s))</code>"
            case let .strong(inner): return "<strong>\(html(inner))</strong>"
            case let .link(inner, url): return "<a href=\"\(escape(url))\">\(html(inner))</a>"
            }
        }.joined()
    }

    /// Text for element content and double-quoted attributes (the only places the page puts text).
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
