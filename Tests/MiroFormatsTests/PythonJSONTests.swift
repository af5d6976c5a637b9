import Foundation
import Testing
import MiroFormats

/// The one JSON value: `json.loads` / RFC 8259 reading and `json.dumps` writing. Expected texts are what
/// CPython 3's `json` module prints for the same values.
@Suite("PythonJSON")
struct PythonJSONTests {
    static func parse(_ text: String, _ options: PythonJSON.ParseOptions = .python) throws -> PythonJSON {
        try PythonJSON.parse(Array(text.utf8), options: options)
    }

    /// {"b": [1, 2.5, {"z": None, "a": True}], "a": {}, "é": "x\x7f/😀\x01", "c": []}
    static let sample = PythonJSON.object([
        ("b", .array([.int(1), .float(2.5), .object([("z", .null), ("a", .bool(true))])])),
        ("a", .object([])), ("é", .string("x\u{7F}/\u{1F600}\u{01}")), ("c", .array([])),
    ])

    @Test("dumps matches json.dumps for default, compact, indented, sorted and non-ASCII output")
    func dumps() {
        let v = Self.sample
        #expect(v.dumps() == #"{"b": [1, 2.5, {"z": null, "a": true}], "a": {}, "\u00e9": "x\u007f/\ud83d\ude00\u0001", "c": []}"#)
        #expect(v.dumps(separators: (",", ":"), ensureASCII: false)
            == "{\"b\":[1,2.5,{\"z\":null,\"a\":true}],\"a\":{},\"é\":\"x\u{7F}/\u{1F600}\\u0001\",\"c\":[]}")
        #expect(v.dumps(indent: 2, sortKeys: true) == "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2.5,\n    {\n      \"a\": true,\n"
            + "      \"z\": null\n    }\n  ],\n  \"c\": [],\n  \"\\u00e9\": \"x\\u007f/\\ud83d\\ude00\\u0001\"\n}")
        #expect(v.dumps(indent: 0) == "{\n\"b\": [\n1,\n2.5,\n{\n\"z\": null,\n\"a\": true\n}\n],\n\"a\": {},\n"
            + "\"\\u00e9\": \"x\\u007f/\\ud83d\\ude00\\u0001\",\n\"c\": []\n}")
        #expect(PythonJSON.float(.nan).dumps() == "NaN" && PythonJSON.float(.infinity).dumps() == "Infinity")
        #expect(PythonJSON.array([.float(7), .float(1e-9), .float(1e16), .float(0.1), .int(-3)]).dumps()
            == "[7.0, 1e-09, 1e+16, 0.1, -3]")
        #expect(Self.sample.description == Self.sample.dumps())
    }

    @Test("numbers keep their text: ints stay ints, 7 and 7.0 round-trip, huge ints round like float(int)")
    func numbers() throws {
        let v = try Self.parse("[7, 7.0, 1E+2, -0, 9007199254740993, 9007199254740995, 123456789012345678901234567890, true]")
        #expect(v.dumps() == "[7, 7.0, 1E+2, -0, 9007199254740993, 9007199254740995, 123456789012345678901234567890, true]")
        let a = try #require(v.array)
        #expect(a[0].isInteger && a[0].integer == 7 && a[0].double == 7)
        #expect(!a[1].isInteger && a[1].integer == nil && a[1].double == 7)
        #expect(a[2].double == 100 && a[3].integer == 0)
        #expect(a[4].double == 9007199254740992 && a[5].double == 9007199254740996)  // ties to even
        #expect(a[6].integer == nil && a[6].double == 1.2345678901234568e29)
        #expect(a[7].double == nil && a[7].number == 1 && a[7].bool == true)
        #expect(PythonJSON.string("1").number == nil && PythonJSON.null.number == nil && PythonJSON.null.isNull)
        // Equality is Python's value equality within a type: 7 != 7.0, 2.0 == 2.00, NaN == NaN, -0 == 0.
        #expect(a[0] == .int(7) && a[0] != .float(7) && a[1] == .float(7))
        #expect(try Self.parse("2.00") == .float(2) && PythonJSON.number("-0") == .int(0))
        #expect(try Self.parse("NaN") == .float(.nan) && PythonJSON.float(.nan) != .int(0))
    }

    @Test("objects keep order and repeats; lookups take the last value, as a dict does")
    func objects() throws {
        let v = try Self.parse(#"{"a": 1, "b": [10, 20], "a": 3}"#)
        #expect(v.members?.map(\.key) == ["a", "b", "a"])
        #expect(v["a"] == .int(3) && v.object?["a"] == .int(3) && v.object?.count == 2)
        #expect(v["b"]?[1] == .int(20) && v["b"]?[2] == nil && v["missing"] == nil && v[0] == nil)
        #expect(v.dumps() == #"{"a": 1, "b": [10, 20], "a": 3}"#)
        #expect(try Self.parse(#"{"a": 1, "b": 2}"#) != Self.parse(#"{"b": 2, "a": 1}"#))  // order matters
        let strict = #expect(throws: PythonJSONError.self) { try Self.parse(#"{"a": 1, "a": 2}"#, .strict) }
        #expect(strict?.message == "duplicate key \"a\"" && strict?.offset == 9)
    }

    @Test("Python dialect vs strict: non-finite literals and lone surrogates")
    func dialects() throws {
        let v = try Self.parse(#"[NaN, Infinity, -Infinity, "\ud800x", "\udc00\ud83d\ude00"]"#)
        #expect(v[0]?.double?.isNaN == true && v[1]?.double == .infinity && v[2]?.double == -.infinity)
        #expect(v[3]?.string == "\u{FFFD}x" && v[4]?.string == "\u{FFFD}\u{1F600}")
        for text in ["NaN", "[Infinity]", "-Infinity", #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#] {
            #expect(throws: PythonJSONError.self, "\(text)") { try Self.parse(text, .strict) }
        }
        #expect(try Self.parse(#""\ud83d\ude00/\/""#, .strict).string == "\u{1F600}//")
    }

    @Test("malformed text is rejected with the byte offset", arguments: [
        (#"{"a": 1,}"#, 8), (#"{"a": 01}"#, 7), ("[1 2]", 3), ("{\"a\": \"x\u{01}\"}", 8), ("{", 1), (#"{"a": 1} x"#, 9),
        ("nan", 0), ("1.", 2), ("1e+", 3), ("-", 1), ("[", 1), (#""\x""#, 1), (#""\u12G4""#, 5), ("tru", 0),
        (#"{"a" 1}"#, 5), ("", 0), ("\"\u{FF}\"", 0),
    ])
    func malformed(_ text: String, _ offset: Int) {
        let bytes = text == "\"\u{FF}\"" ? [0x22, 0xFF, 0x22] : Array(text.utf8)
        let error = #expect(throws: PythonJSONError.self, "\(text)") { try PythonJSON.parse(bytes) }
        #expect(error?.offset == offset, "\(text): \(error.map { "\($0)" } ?? "")")
        #expect(error?.description.hasSuffix("(byte \(offset))") == true)
    }

    @Test("nesting is capped by the options")
    func depth() throws {
        let deep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        #expect(try Self.parse(deep).array != nil)
        let error = #expect(throws: PythonJSONError.self) { try Self.parse(deep, .strict) }
        #expect(error?.message == "nesting deeper than 128 levels")
    }

    @Test("parse then dumps reproduces json.dumps output and every escape")
    func roundTrip() throws {
        let text = #"{"k": ["\" \\ \/ \b \f \n \r \t \u0000 \u001f \u007f \u00e9 \ud83d\ude00", 1.5e-07, null, false]}"#
        let v = try Self.parse(text)
        #expect(v.dumps() == #"{"k": ["\" \\ / \b \f \n \r \t \u0000 \u001f \u007f \u00e9 \ud83d\ude00", 1.5e-07, null, false]}"#)
        #expect(try Self.parse(v.dumps(indent: 4, ensureASCII: false)) == v)
        #expect(try Self.parse(Self.sample.dumps(indent: 2)) == Self.sample)
        #expect(PythonJSON.quoted("a/é\u{7F}\n", ensureASCII: false) == "\"a/é\u{7F}\\n\"")  // serde_json's escaping
    }
}
