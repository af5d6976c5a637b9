/// Port of the parts of ftfy 6.2.0 `fix_text` (ftfy/__init__.py `fix_text`, `fix_and_explain`; ftfy/fixes.py) that
/// open_clip's `basic_clean` relies on for text that is not mojibake:
/// - `unescape_html` (`&#?[0-9A-Za-z]{1,24};` with ftfy's entity table, including its upper-cased names such as
///   `&NTILDE;`), switched off from the first line containing `<` onwards (the "auto" setting);
/// - the per-character fixers `fix_c1_controls`, `fix_latin_ligatures`, `fix_character_width`, `uncurl_quotes`,
///   `fix_line_breaks`, `remove_control_chars` (FtfyTables, generated from ftfy itself);
/// - NFC, all repeated until the text stops changing.
/// Not ported: `fix_encoding` (mojibake detection and repair, e.g. `cafÃ©` → `café`) and `remove_terminal_escapes`
/// (ANSI colour codes); such text tokenises differently from open_clip. `fix_line_breaks` is applied per character,
/// so `\r\n` becomes two line breaks rather than one; the whitespace clean-up after it makes that invisible.
import Foundation

enum FtfyLite {
    private static let characterFixes: [UInt32: String] = {
        var table: [UInt32: String] = [:]
        for line in FtfyTables.characterFixes.split(separator: "\n") {
            guard let bar = line.firstIndex(of: "|"), let cp = UInt32(line[..<bar], radix: 16) else { continue }
            table[cp] = CLIPTextCleaning.decodeHexScalars(line[line.index(after: bar)...])
        }
        return table
    }()

    /// ftfy's `HTML_ENTITIES`: `&name;` for every HTML5 name with a semicolon, plus the upper-cased spelling of
    /// lower-case names when `html.unescape` leaves that spelling alone (mapped to the upper-cased character).
    private static let entities: [String: String] = {
        var table: [String: String] = [:]
        for line in HTMLEntityTables.named.split(separator: "\n") {
            guard let bar = line.firstIndex(of: "|") else { continue }
            let name = String(line[..<bar]), value = CLIPTextCleaning.decodeHexScalars(line[line.index(after: bar)...])
            guard name.hasSuffix(";") else { continue }
            table["&" + name] = value
            if name == name.lowercased() {
                let upper = "&" + name.uppercased()
                if CLIPTextCleaning.htmlUnescape(upper) == upper, table[upper] == nil { table[upper] = value.uppercased() }
            }
        }
        return table
    }()

    static func fixText(_ text: String) -> String {
        var out = ""
        var unescape = true
        var rest = Substring(text)
        while !rest.isEmpty {
            let end = rest.firstIndex(of: "\n").map { rest.index(after: $0) } ?? rest.endIndex
            let segment = String(rest[..<end])
            if segment.contains("<") { unescape = false }
            out += fixSegment(segment, unescapeHTML: unescape)
            rest = rest[end...]
        }
        return out
    }

    private static func fixSegment(_ segment: String, unescapeHTML: Bool) -> String {
        var text = segment
        while true {
            let original = text
            if unescapeHTML { text = unescapeEntities(text) }
            var fixed = ""
            for s in text.unicodeScalars {
                if let r = characterFixes[s.value] { fixed += r } else { fixed.unicodeScalars.append(s) }
            }
            text = fixed.precomposedStringWithCanonicalMapping
            // Exact comparison: Swift's == would call a string and its NFC form equal.
            if text.unicodeScalars.elementsEqual(original.unicodeScalars) { return text }
        }
    }

    private static func isASCIIAlnum(_ s: Unicode.Scalar) -> Bool {
        ("0"..."9").contains(s) || ("a"..."z").contains(s) || ("A"..."Z").contains(s)
    }

    /// ftfy `unescape_html`.
    static func unescapeEntities(_ text: String) -> String {
        guard text.unicodeScalars.contains("&") else { return text }
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == "&" {
                var j = i + 1
                if j < s.count, s[j] == "#" { j += 1 }
                let start = j
                while j < s.count, j - start < 24, isASCIIAlnum(s[j]) { j += 1 }
                if j > start, j < s.count, s[j] == ";" {
                    let match = String(String.UnicodeScalarView(s[i...j]))
                    out.append(contentsOf: replacement(match).unicodeScalars)
                    i = j + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return String(out)
    }

    private static func replacement(_ match: String) -> String {
        if let v = entities[match] { return v }
        if match.hasPrefix("&#") {
            let unescaped = CLIPTextCleaning.htmlUnescape(match)
            return unescaped.contains(";") ? match : unescaped
        }
        return match
    }
}
