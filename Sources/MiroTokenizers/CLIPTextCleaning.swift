/// Port of the text clean-up in front of the two CLIP tokenizers:
/// - open_clip 2.24.0 `tokenizer.py` `_clean_lower`: `whitespace_clean(basic_clean(text)).lower()` where
///   `basic_clean` is `ftfy.fix_text`, `html.unescape` twice and `strip()` (CPython 3.11 `html/__init__.py`);
/// - tokenizers 0.19.1 normalizer of `CLIPTokenizerFast` (transformers 4.40.2 `convert_slow_tokenizer.CLIPConverter`):
///   `Sequence([NFC, Replace(\s+ → " "), Lowercase])`.
///
/// `ftfy.fix_text` is FtfyLite: everything but ftfy's mojibake repair (`cafÃ©` → `café`) and ANSI escape removal.
import Foundation

enum CLIPTextCleaning {
    /// CLIPTokenizerFast's normalizer: NFC, every run of whitespace to one space, per-character lower-casing (Rust
    /// `char::to_lowercase`, which has no final-sigma rule). Leading and trailing spaces stay; the pre-tokenizer drops them.
    static func huggingFaceNormalize(_ text: String) -> String {
        lowercasedPerScalar(collapseWhitespace(text.precomposedStringWithCanonicalMapping))
    }

    /// open_clip's `_clean_lower`: `ftfy.fix_text` (FtfyLite), `html.unescape` twice, `strip`,
    /// `re.sub(r'\s+', ' ', ·).strip()`, `str.lower()`.
    static func openCLIPClean(_ text: String) -> String {
        var t = FtfyLite.fixText(text)
        t = htmlUnescape(htmlUnescape(t))
        t = pythonStrip(t)
        t = pythonStrip(collapseWhitespace(t))
        return lowercasedPerScalar(t)
    }

    static func collapseWhitespace(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var inSpace = false
        for s in text.unicodeScalars {
            if CLIPPreTokenizer.isSpace(s) {
                if !inSpace { out.append(" ") }
                inSpace = true
            } else {
                out.append(s)
                inSpace = false
            }
        }
        return String(out)
    }

    /// Full (one-to-many) lower-case mapping of each scalar, as Rust `char::to_lowercase` and, outside Greek final
    /// sigma, Python `str.lower` do.
    static func lowercasedPerScalar(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars { out += s.properties.lowercaseMapping }
        return out
    }

    /// Python `str.isspace` (what `str.strip()` removes): White_Space plus the information separators U+001C…U+001F.
    static func pythonIsSpace(_ s: Unicode.Scalar) -> Bool {
        s.properties.isWhitespace || (0x1C...0x1F).contains(s.value)
    }

    static func pythonStrip(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !pythonIsSpace($0) }),
              let last = scalars.lastIndex(where: { !pythonIsSpace($0) }) else { return "" }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[first...last])
        return String(view)
    }

    // MARK: html.unescape

    private static let namedEntities: [String: String] = {
        var table: [String: String] = [:]
        for line in HTMLEntityTables.named.split(separator: "\n") {
            guard let bar = line.firstIndex(of: "|") else { continue }
            table[String(line[..<bar])] = decodeHexScalars(line[line.index(after: bar)...])
        }
        return table
    }()

    /// `"E9 301"` → `"é"`: the generated tables spell replacements as hex code points (never invalid: generated).
    static func decodeHexScalars(_ field: Substring) -> String {
        var view = String.UnicodeScalarView()
        for hex in field.split(separator: " ") {
            if let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) { view.append(scalar) }
        }
        return String(view)
    }

    /// CPython's `html.unescape`: every match of
    /// `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)` replaced by `_replace_charref`.
    static func htmlUnescape(_ text: String) -> String {
        guard text.unicodeScalars.contains("&") else { return text }
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            guard s[i] == "&", let (replacement, end) = charref(s, at: i + 1) else {
                out.append(s[i])
                i += 1
                continue
            }
            out.append(contentsOf: replacement.unicodeScalars)
            i = end
        }
        return String(out)
    }

    private static func isASCIIDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }
    private static func isHexDigit(_ c: Unicode.Scalar) -> Bool {
        isASCIIDigit(c) || ("a"..."f").contains(c) || ("A"..."F").contains(c)
    }

    /// The replacement and the index after the match for a reference starting after `&` at `start`, or nil when the
    /// regex does not match there.
    private static func charref(_ s: [Unicode.Scalar], at start: Int) -> (String, Int)? {
        guard start < s.count else { return nil }
        if s[start] == "#" {
            var j = start + 1
            var hex = false
            if j < s.count, s[j] == "x" || s[j] == "X", j + 1 < s.count, isHexDigit(s[j + 1]) {
                hex = true
                j += 1
            }
            let digitsStart = j
            while j < s.count, hex ? isHexDigit(s[j]) : isASCIIDigit(s[j]) { j += 1 }
            guard j > digitsStart else { return nil }
            let digits = String(String.UnicodeScalarView(s[digitsStart..<j]))
            if j < s.count, s[j] == ";" { j += 1 }
            // Python's int has no limit: anything that does not fit is far above 0x10FFFF.
            let value = UInt64(digits, radix: hex ? 16 : 10) ?? UInt64.max
            return (numericReplacement(value), j)
        }
        let excluded: Set<Unicode.Scalar> = ["\t", "\n", "\u{0C}", " ", "<", "&", "#", ";"]
        var j = start
        while j < s.count, j - start < 32, !excluded.contains(s[j]) { j += 1 }
        guard j > start else { return nil }
        if j < s.count, s[j] == ";" { j += 1 }
        let name = String(String.UnicodeScalarView(s[start..<j]))
        if let value = namedEntities[name] { return (value, j) }
        let nameScalars = Array(name.unicodeScalars)
        var x = nameScalars.count - 1
        while x > 1 {
            let prefix = String(String.UnicodeScalarView(nameScalars[0..<x]))
            if let value = namedEntities[prefix] {
                return (value + String(String.UnicodeScalarView(nameScalars[x...])), j)
            }
            x -= 1
        }
        return ("&" + name, j)
    }

    private static func numericReplacement(_ value: UInt64) -> String {
        if value <= UInt64(UInt32.max), let mapped = HTMLEntityTables.invalidCharrefs[UInt32(value)] {
            return String(String.UnicodeScalarView(mapped.compactMap(Unicode.Scalar.init)))
        }
        if (0xD800...0xDFFF).contains(value) || value > 0x10FFFF { return "\u{FFFD}" }
        if HTMLEntityTables.invalidCodepoints.contains(UInt32(value)) { return "" }
        return Unicode.Scalar(UInt32(value)).map { String(Character($0)) } ?? "\u{FFFD}"
    }
}
