import Foundation
import Testing
import MiroFormats

/// A `.npy` buffer with the given version, header text (length computed) and data bytes.
private func npy(_ header: String, version: (UInt8, UInt8) = (1, 0), data: [UInt8] = []) -> Data {
    let h = Array(header.utf8)
    var out = NPYArray.magic + [version.0, version.1]
    if version.0 == 1 {
        out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8)]
    } else {
        out += (0..<4).map { UInt8(truncatingIfNeeded: h.count >> (8 * $0)) }
    }
    return Data(out + h + data)
}

private let f4Header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"

@Suite("npy malformed files")
struct NPYMalformedTests {
    static let path = "bad.npy"

    static let cases: [MalformedCase] = [
        MalformedCase(label: "bad magic", bytes: Data("NUMPY\u{1}\u{0}xxxxxxxx".utf8), phrases: ["not a .npy file", "magic"]),
        MalformedCase(label: "empty file", bytes: Data(), phrases: ["not a .npy file"]),
        MalformedCase(label: "unsupported version 4.0", bytes: npy(f4Header, version: (4, 0)),
                      phrases: ["format version 4.0 is not supported (1.0, 2.0 and 3.0 are)"]),
        MalformedCase(label: "unsupported version 1.1", bytes: npy(f4Header, version: (1, 1)),
                      phrases: ["format version 1.1 is not supported"]),
        MalformedCase(label: "file ends in length field", bytes: Data(NPYArray.magic + [2, 0, 10]),
                      phrases: ["file ends inside the header length field"]),
        MalformedCase(label: "truncated header", bytes: npy(f4Header).prefix(30),
                      phrases: ["header length 58 runs past the end of the file (30 bytes)"]),
        MalformedCase(label: "fortran order", bytes: npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data: Array(repeating: 0, count: 24)),
                      phrases: ["fortran_order True (column-major) arrays are not supported"]),
        MalformedCase(label: "big-endian", bytes: npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data: Array(repeating: 0, count: 8)),
                      phrases: ["dtype descr '>f4' is big-endian"]),
        MalformedCase(label: "unknown descr", bytes: npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", data: Array(repeating: 0, count: 16)),
                      phrases: ["dtype descr '<c8' is not supported", "supported: <f2, <f4"]),
        MalformedCase(label: "structured descr", bytes: npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"),
                      phrases: ["descr [('a', '<f4')] is not a simple dtype string"]),
        MalformedCase(label: "data too short", bytes: npy(f4Header, data: [0, 0, 0, 0]),
                      phrases: ["data has 4 bytes but '<f4' × shape (2,) needs 8"]),
        MalformedCase(label: "data too long", bytes: npy(f4Header, data: Array(repeating: 0, count: 9)),
                      phrases: ["data has 9 bytes but '<f4' × shape (2,) needs 8", "1 trailing bytes"]),
        MalformedCase(label: "malformed dict", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) \n"),
                      phrases: ["header is not a valid Python dict literal", "expected ',' or '}'"]),
        MalformedCase(label: "header is not a dict", bytes: npy("(2, 3)\n"), phrases: ["header is not a dict"]),
        MalformedCase(label: "missing key", bytes: npy("{'descr': '<f4', 'shape': (2,)}\n", data: Array(repeating: 0, count: 8)),
                      phrases: ["header is missing the key 'fortran_order'"]),
        MalformedCase(label: "extra key", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n"),
                      phrases: ["header has unexpected key 'x'"]),
        MalformedCase(label: "repeated key", bytes: npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"),
                      phrases: ["header repeats the key 'descr'"]),
        MalformedCase(label: "negative dimension", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }"),
                      phrases: ["shape (-2,) contains -2, which is not a non-negative integer"]),
        MalformedCase(label: "shape is a list", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }"),
                      phrases: ["shape [2] is not a tuple"]),
        MalformedCase(label: "fortran_order not a bool", bytes: npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }"),
                      phrases: ["fortran_order 0 is not True or False"]),
        MalformedCase(label: "code in header", bytes: npy("{'descr': __import__('os'), 'fortran_order': False, 'shape': (2,)}"),
                      phrases: ["unsupported name '__import__'"]),
        MalformedCase(label: "invalid UTF-8 in a 3.0 header",
                      bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", version: (3, 0)).replacingByte(at: 20, with: 0xC3),
                      phrases: ["format 3.0 header is not valid UTF-8"]),
        MalformedCase(label: "shape overflow", bytes: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"),
                      phrases: ["overflows"]),
    ]

    @Test("corrupted .npy files throw a FormatError naming the file and the problem", arguments: cases)
    func rejects(_ testCase: MalformedCase) {
        expectFormatError(path: Self.path, contains: testCase.phrases) {
            _ = try NPYArray(data: testCase.bytes, path: Self.path)
        }
    }

    @Test("every truncation of a valid file is rejected without crashing")
    func everyTruncation() throws {
        let data = try Fixtures.data("f4_2x3x4.npy")
        for length in 0..<data.count {
            #expect(throws: FormatError.self, "length \(length)") { try NPYArray(data: data.prefix(length)) }
        }
    }
}

extension Data {
    func replacingByte(at index: Int, with value: UInt8) -> Data {
        var copy = self
        copy[copy.startIndex + index] = value
        return copy
    }
}
