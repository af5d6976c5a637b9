// Port of serde_json 1.0.116's number reading without its `float_roundtrip` feature (src/de.rs: parse_integer,
// parse_long_integer, parse_decimal, parse_decimal_overflow, parse_exponent, parse_exponent_overflow,
// f64_from_parts), the reader tokenizers 0.19.1 loads `tokenizer.json` with.
//
// Why not a correctly rounded parse: that reader computes `significand as f64 / 10^k`, two roundings, so some
// 17-digit scores load 1 ulp away from the value written (e.g. "-7.4981303215026855" reads as
// -7.498130321502685). The Unigram Viterbi then adds those very values; parsing them the same way keeps even
// near-ties identical to T5TokenizerFast.

private let powersOfTen: [Double] = (0...308).map { Double("1e\($0)") ?? .infinity }

/// The f64 serde_json 1.0.116 (default features) gives for the JSON number `lexeme`; nil for a malformed
/// number or one serde_json refuses as out of range.
func serdeJSONDouble(_ lexeme: String) -> Double? {
    let bytes = Array(lexeme.utf8)
    var i = 0
    func digit(at index: Int) -> UInt64? {
        guard index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") else { return nil }
        return UInt64(bytes[index] - UInt8(ascii: "0"))
    }
    /// `overflow!(significand * 10 + digit, u64::MAX)`.
    func overflows(_ significand: UInt64, _ d: UInt64) -> Bool {
        significand >= UInt64.max / 10 && (significand > UInt64.max / 10 || d > UInt64.max % 10)
    }
    var positive = true
    if i < bytes.count, bytes[i] == UInt8(ascii: "-") {
        positive = false
        i += 1
    }
    guard let first = digit(at: i) else { return nil }
    i += 1
    var significand = first
    var exponent = 0  // i32 in the reference; kept within its range below
    var isFloat = false
    if first == 0 {
        guard digit(at: i) == nil else { return nil }  // one leading zero only
    } else {
        while let d = digit(at: i) {
            if overflows(significand, d) {
                // parse_long_integer: the remaining integer digits only scale.
                while digit(at: i) != nil {
                    exponent += 1
                    i += 1
                }
                isFloat = true
                break
            }
            significand = significand * 10 + d
            i += 1
        }
    }
    if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
        isFloat = true
        i += 1
        var fractionDigits = 0
        var overflowed = false
        while let d = digit(at: i) {
            i += 1
            if overflowed { continue }  // parse_decimal_overflow: further digits are ignored
            if overflows(significand, d) {
                overflowed = true
                continue
            }
            significand = significand * 10 + d
            fractionDigits += 1
        }
        guard fractionDigits > 0 || overflowed else { return nil }
        exponent -= fractionDigits
    }
    if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
        isFloat = true
        i += 1
        var positiveExponent = true
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            positiveExponent = bytes[i] == UInt8(ascii: "+")
            i += 1
        }
        guard let firstExponentDigit = digit(at: i) else { return nil }
        i += 1
        var value = Int(firstExponentDigit)
        while let d = digit(at: i) {
            i += 1
            if value >= Int(Int32.max) / 10 && (value > Int(Int32.max) / 10 || Int(d) > Int(Int32.max) % 10) {
                // parse_exponent_overflow
                while digit(at: i) != nil { i += 1 }
                guard i == bytes.count, significand == 0 || !positiveExponent else { return nil }
                return positive ? 0.0 : -0.0
            }
            value = value * 10 + Int(d)
        }
        // starting_exp.saturating_add / saturating_sub in i32.
        exponent = min(max(positiveExponent ? exponent + value : exponent - value, Int(Int32.min)), Int(Int32.max))
    }
    guard i == bytes.count else { return nil }
    guard isFloat else {
        // An integer: u64 or i64, converted with `as f64`.
        return positive ? Double(significand) : -Double(significand)
    }
    // f64_from_parts
    var f = Double(significand)
    while true {
        let magnitude = exponent.magnitude
        if magnitude < UInt(powersOfTen.count), exponent != Int(Int32.min) {
            if exponent >= 0 {
                f *= powersOfTen[Int(magnitude)]
                if f.isInfinite { return nil }
            } else {
                f /= powersOfTen[Int(magnitude)]
            }
            break
        }
        if f == 0 { break }
        if exponent >= 0 { return nil }
        f /= 1e308
        exponent += 308
    }
    return positive ? f : -f
}
