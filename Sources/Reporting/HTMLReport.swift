import Foundation
/// A self-contained HTML page from the report's Markdown (the subset it uses: headings, bold,
/// lists, tables, paragraphs, code), with the plots' SVG inline.
enum HTMLReport {
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

    /// Inline Markdown (the report's subset): `\x` escapes, **bold**, `code`; everything else is
    /// text, HTML-escaped. Tags are always balanced.
    static func inline(_ s: String) -> String {
        var out = "", bold = false, code = false
        var chars = Array(s)[...]
        while let c = chars.popFirst() {
            if c == "\\", let n = chars.first, n.isASCII, n.isPunctuation || n.isSymbol {
                out += escape(String(n)); chars.removeFirst(); continue
            }
            if c == "`" { out += code ? "</code>" : "<code>"; code.toggle(); continue }
            if !code, c == "*", chars.first == "*" { chars.removeFirst(); out += bold ? "</strong>" : "<strong>"; bold.toggle(); continue }
            out += escape(String(c))
        }
        if code { out += "</code>" }
        if bold { out += "</strong>" }
        return out
    }

    /// A table row's cells, split at pipes that are not backslash-escaped.
    static func cells(_ line: String) -> [String] {
        var cells: [String] = [], cell = "", escaped = false
        for c in line {
            if escaped { cell.append(c); escaped = false; continue }
            if c == "\\" { cell.append(c); escaped = true; continue }
            if c == "|" { cells.append(cell.trimmingCharacters(in: .whitespaces)); cell = ""; continue }
            cell.append(c)
        }
        cells.append(cell.trimmingCharacters(in: .whitespaces))
        return Array(cells.dropFirst().dropLast())
    }

    static func render(markdown: String, title: String, plots: [Plots.Plot]) -> String {
        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
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
        var inList = false
        var table: [[String]] = []
        var alignRight: [Bool] = []
        func flushTable() {
            guard !table.isEmpty else { return }
            html += "<table>\n<tr>" + table[0].enumerated().map { "<th\(alignRight.indices.contains($0) && alignRight[$0] ? " class=\"r\"" : "")>\(inline($1))</th>" }.joined() + "</tr>\n"
            for row in table.dropFirst() {
                html += "<tr>" + row.enumerated().map { "<td\(alignRight.indices.contains($0) && alignRight[$0] ? " class=\"r\"" : "")>\(inline($1))</td>" }.joined() + "</tr>\n"
            }
            html += "</table>\n"
            table = []
        }
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("|") {
                let cells = cells(line)
                if cells.allSatisfy({ $0.allSatisfy { "-:".contains($0) } && !$0.isEmpty }) {
                    alignRight = cells.map { $0.hasSuffix(":") }
                } else {
                    table.append(cells)
                }
                continue
            }
            flushTable()
            if line.hasPrefix("- ") {
                if !inList { html += "<ul>\n"; inList = true }
                html += "<li>\(inline(String(line.dropFirst(2))))</li>\n"
                continue
            }
            if inList { html += "</ul>\n"; inList = false }
            if line.hasPrefix("# ") {
                html += "<h1>\(inline(String(line.dropFirst(2))))</h1>\n"
            } else if line.hasPrefix("## ") {
                html += "<h2>\(inline(String(line.dropFirst(3))))</h2>\n"
            } else if line.hasPrefix("!["), let split = line.range(of: "](", options: .backwards), let close = line.lastIndex(of: ")") {
                let path = String(line[split.upperBound..<close])
                let caption = String(line[line.index(line.startIndex, offsetBy: 2)..<split.lowerBound])
                if let plot = plots.first(where: { "plots/" + $0.name == path }) {
                    let svg = plot.svg.range(of: "<svg").map { String(plot.svg[$0.lowerBound...]) } ?? plot.svg
                    html += "<figure>\(svg)<figcaption>\(escape(caption))</figcaption></figure>\n"
                }
            } else if !line.isEmpty {
                html += "<p>\(inline(line))</p>\n"
            }
        }
        flushTable()
        if inList { html += "</ul>\n" }
        return html + "</body></html>\n"
    }
}
