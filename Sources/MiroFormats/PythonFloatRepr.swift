import Foundation

/// Python's float formatting as `repr`, f-strings and `json.dumps` (through ``PythonJSON/float(_:)``) use it.
public enum PythonFloatRepr {
    /// `repr(x)` / `str(x)` of a Python float: the shortest round-tripping digits, fixed notation when the
    /// decimal exponent is in [-4, 16), otherwise `d.ddde±XX`; `nan`, `inf`, `-inf`.
    public static func string(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        let negative = x.sign == .minus
        // Swift's description gives the shortest round-trip digits (closest to x); only the layout differs.
        var text = Substring(x.magnitude.description)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...])!
            text = text[..<e]
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = parts[0]
        let fracPart = parts.count > 1 ? parts[1] : ""
        var digits = Array(intPart + fracPart)
        var decpt = intPart.count + exponent  // value = 0.d1d2... × 10^decpt
        while let f = digits.first, f == "0" { digits.removeFirst(); decpt -= 1 }
        while let l = digits.last, l == "0" { digits.removeLast() }
        let sign = negative ? "-" : ""
        if digits.isEmpty { return sign + "0.0" }
        let d = String(digits)
        if decpt <= -4 || decpt > 16 {
            let e = decpt - 1
            let mant = digits.count == 1 ? d : String(digits[0]) + "." + String(digits[1...])
            let ee = abs(e) < 10 ? "0\(abs(e))" : "\(abs(e))"
            return sign + mant + "e" + (e < 0 ? "-" : "+") + ee
        }
        if decpt <= 0 { return sign + "0." + String(repeating: "0", count: -decpt) + d }
        if decpt >= digits.count { return sign + d + String(repeating: "0", count: decpt - digits.count) + ".0" }
        return sign + String(digits[..<decpt]) + "." + String(digits[decpt...])
    }
}

/// Python's `str` ordering (`sorted()` of strings): lexicographic by Unicode code point, not by Swift's
/// `String` comparison, which orders by extended grapheme clusters.
public func pythonStringLess(_ a: String, _ b: String) -> Bool {
    a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
}
