import Foundation
import Testing
import MiroFormats

/// One corrupted file and the words its error must contain.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    var label: String
    var bytes: Data
    var phrases: [String]
    var testDescription: String { label }
}

private func entry(_ name: String, _ dtype: String, _ shape: String, _ begin: Int, _ end: Int) -> String {
    #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
}

@Suite("safetensors malformed files")
struct SafeTensorsMalformedTests {
    static let path = "bad.safetensors"

    static let cases: [MalformedCase] = [
        MalformedCase(label: "too short", bytes: Data([1, 0, 0]), phrases: ["file is 3 bytes", "8-byte header length"]),
        MalformedCase(label: "header length past end of file",
                      bytes: safetensorsBytes(header: "{}", declaredLength: 100),
                      phrases: ["header length 100 runs past the end of the file (10 bytes"]),
        MalformedCase(label: "header over 100 MB",
                      bytes: safetensorsBytes(header: "{}", declaredLength: 100_000_001),
                      phrases: ["header length 100000001 exceeds the 100000000-byte limit"]),
        MalformedCase(label: "header length u64 max",
                      bytes: safetensorsBytes(header: "{}", declaredLength: .max),
                      phrases: ["header length 18446744073709551615 exceeds"]),
        MalformedCase(label: "empty header", bytes: safetensorsBytes(header: ""), phrases: ["header is empty"]),
        MalformedCase(label: "header not JSON", bytes: safetensorsBytes(header: #"{"a": }"#),
                      phrases: ["header is not valid JSON", "unexpected character '}'", "header byte 6"]),
        MalformedCase(label: "trailing garbage after JSON", bytes: safetensorsBytes(header: "{} x"),
                      phrases: ["header is not valid JSON", "trailing characters"]),
        MalformedCase(label: "header not starting with {", bytes: safetensorsBytes(header: " {}"),
                      phrases: ["header must start with '{'", "0x20"]),
        MalformedCase(label: "header is an array", bytes: safetensorsBytes(header: "[]"),
                      phrases: ["header must start with '{'", "0x5b"]),
        MalformedCase(label: "stray byte after an empty header", bytes: safetensorsBytes(header: "{}") + Data([0xFF]),
                      phrases: ["the last 1 bytes belong to no tensor"]),
        MalformedCase(label: "invalid UTF-8 inside header",
                      bytes: { var d = safetensorsBytes(header: #"{"x": 1}"#); d[10] = 0xFF; return d }(),
                      phrases: ["header is not valid UTF-8"]),
        MalformedCase(label: "unknown dtype", bytes: safetensorsBytes(header: "{" + entry("w", "F33", "[1]", 0, 4) + "}", buffer: [0, 0, 0, 0]),
                      phrases: ["tensor 'w' has unknown dtype \"F33\"", "known: BOOL"]),
        MalformedCase(label: "negative dimension", bytes: safetensorsBytes(header: "{" + entry("w", "F32", "[-1]", 0, 4) + "}", buffer: [0, 0, 0, 0]),
                      phrases: ["tensor 'w' shape contains -1, which is not a non-negative integer"]),
        MalformedCase(label: "non-integer dimension", bytes: safetensorsBytes(header: "{" + entry("w", "F32", "[1.0]", 0, 4) + "}", buffer: [0, 0, 0, 0]),
                      phrases: ["tensor 'w' shape contains 1.0"]),
        MalformedCase(label: "string dimension", bytes: safetensorsBytes(header: "{" + entry("w", "F32", #"["2"]"#, 0, 4) + "}", buffer: [0, 0, 0, 0]),
                      phrases: ["tensor 'w' shape contains \"2\""]),
        MalformedCase(label: "offsets do not match shape",
                      bytes: safetensorsBytes(header: "{" + entry("a.weight", "F32", "[2,2]", 0, 12) + "}", buffer: Array(repeating: 0, count: 12)),
                      phrases: ["bad.safetensors: tensor 'a.weight' data_offsets [0, 12] do not match dtype F32 × shape [2, 2] = 16 bytes"]),
        MalformedCase(label: "hole between tensors",
                      bytes: safetensorsBytes(header: "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}",
                                              buffer: Array(repeating: 0, count: 12)),
                      phrases: ["hole in data buffer: bytes [4, 8) belong to no tensor between 'a' and 'b'"]),
        MalformedCase(label: "hole at start",
                      bytes: safetensorsBytes(header: "{" + entry("a", "F32", "[1]", 4, 8) + "}", buffer: Array(repeating: 0, count: 8)),
                      phrases: ["bytes [0, 4) belong to no tensor before 'a'"]),
        MalformedCase(label: "overlapping tensors",
                      bytes: safetensorsBytes(header: "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}",
                                              buffer: Array(repeating: 0, count: 12)),
                      phrases: ["tensor 'b' data_offsets [4, 12] overlap 'a', which ends at 8"]),
        MalformedCase(label: "buffer longer than indexed",
                      bytes: safetensorsBytes(header: "{" + entry("a", "F32", "[1]", 0, 4) + "}", buffer: Array(repeating: 0, count: 9)),
                      phrases: ["data buffer has 9 bytes but the tensors index only 4", "last 5 bytes"]),
        MalformedCase(label: "buffer shorter than indexed",
                      bytes: safetensorsBytes(header: "{" + entry("a", "F32", "[2]", 0, 8) + "}", buffer: [0, 0, 0, 0]),
                      phrases: ["tensors index 8 bytes but the data buffer holds only 4"]),
        MalformedCase(label: "duplicate tensor keys",
                      bytes: safetensorsBytes(header: "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("a", "F32", "[1]", 4, 8) + "}",
                                              buffer: Array(repeating: 0, count: 8)),
                      phrases: ["header is not valid JSON", "duplicate key \"a\""]),
        MalformedCase(label: "duplicate field inside a tensor",
                      bytes: safetensorsBytes(header: #"{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, buffer: [0, 0, 0, 0]),
                      phrases: ["duplicate key \"dtype\""]),
        MalformedCase(label: "metadata value not a string",
                      bytes: safetensorsBytes(header: #"{"__metadata__":{"step":5}}"#),
                      phrases: ["__metadata__ value for key 'step' is 5, but metadata values must be strings"]),
        MalformedCase(label: "metadata not an object",
                      bytes: safetensorsBytes(header: #"{"__metadata__":"x"}"#),
                      phrases: ["__metadata__ must be an object of strings, found \"x\""]),
        MalformedCase(label: "begin greater than end",
                      bytes: safetensorsBytes(header: "{" + entry("a", "F32", "[1]", 8, 4) + "}", buffer: Array(repeating: 0, count: 8)),
                      phrases: ["tensor 'a' data_offsets [8, 4] have begin > end"]),
        MalformedCase(label: "data_offsets with one number",
                      bytes: safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}"#, buffer: [0, 0, 0, 0]),
                      phrases: ["tensor 'a' data_offsets must be [begin, end]", "found [4]"]),
        MalformedCase(label: "missing data_offsets",
                      bytes: safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1]}}"#),
                      phrases: ["tensor 'a' is missing 'data_offsets'"]),
        MalformedCase(label: "unexpected field",
                      bytes: safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"strides":[1]}}"#, buffer: [0, 0, 0, 0]),
                      phrases: ["tensor 'a' has unexpected field 'strides'"]),
        MalformedCase(label: "tensor entry not an object",
                      bytes: safetensorsBytes(header: #"{"a":[1,2]}"#),
                      phrases: ["tensor 'a' must be an object"]),
        MalformedCase(label: "sub-byte tensor not ending on a byte",
                      bytes: safetensorsBytes(header: "{" + entry("q", "F4", "[3]", 0, 2) + "}", buffer: [0, 0]),
                      phrases: ["tensor 'q' with dtype F4 × shape [3] holds 12 bits"]),
        MalformedCase(label: "shape overflow",
                      bytes: safetensorsBytes(header: "{" + entry("big", "F64", "[4611686018427387904,4]", 0, 0) + "}"),
                      phrases: ["tensor 'big'", "overflows"]),
        MalformedCase(label: "deeply nested JSON",
                      bytes: safetensorsBytes(header: #"{"a":"# + String(repeating: "[", count: 500) + String(repeating: "]", count: 500) + "}"),
                      phrases: ["nesting deeper than 128 levels"]),
    ]

    @Test("corrupted files throw a FormatError naming the file and the problem", arguments: cases)
    func rejects(_ testCase: MalformedCase) {
        expectFormatError(path: Self.path, contains: testCase.phrases) {
            _ = try SafeTensorsFile(data: testCase.bytes, path: Self.path)
        }
    }

    @Test("every truncation of a valid file is rejected without crashing")
    func everyTruncation() throws {
        let data = try Fixtures.data("mixed.safetensors")
        for length in 0..<data.count {
            #expect(throws: FormatError.self, "length \(length)") { try SafeTensorsFile(data: data.prefix(length)) }
        }
        #expect(try SafeTensorsFile(data: data).names.count == 16)
    }

    @Test("single-byte corruptions never crash the reader")
    func byteFlips() throws {
        let data = try Fixtures.data("raw_dtypes.safetensors")
        var accepted = 0
        for position in 0..<min(data.count, 600) {
            for value: UInt8 in [0x00, 0x22, 0x7B, 0xFF] {
                var copy = data
                copy[position] = value
                do {
                    _ = try SafeTensorsFile(data: copy)
                    accepted += 1
                } catch is FormatError {
                } catch {
                    Issue.record("non-FormatError \(error) at \(position)")
                }
            }
        }
        #expect(accepted > 0)  // flips inside tensor data stay valid
    }

    @Test("a missing file is an io error naming the path")
    func missingFile() {
        let url = URL(fileURLWithPath: "/nonexistent/dir/model.safetensors")
        expectFormatError(path: url.path, contains: ["cannot read file"]) { _ = try SafeTensorsFile(contentsOf: url) }
    }
}
