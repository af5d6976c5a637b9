// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.4): the `.npy` members of an
// enriched sample (VAE posterior mean/std, T5 token embeddings), written by `np.save` and read by `np.load`.
import Foundation
import MiroFormats

/// The header of an `.npy` member, validated without touching the array data.
///
/// Why not MiroFormats' `NPYArray`: it parses a complete file (copying the payload), while the loader must decide
/// whether a sample is usable from the headers alone — so that a resumed run can re-validate cheaply and the skip
/// decision never depends on decoding floats. Only what the enriched shards contain is accepted: little-endian
/// `<f2` / `<f4`, C order (or Fortran order where it coincides), format versions 1–3.
public struct NPYMemberHeader: Sendable, Equatable, Codable {
    /// Element type: 2 (float16) or 4 (float32) bytes.
    public var itemSize: Int
    public var shape: [Int]
    /// Offset of the first data byte from the start of the member.
    public var dataOffset: Int

    public var elementCount: Int { shape.reduce(1, *) }
    public var dataByteCount: Int { elementCount * itemSize }

    /// Enough leading bytes to parse any header the writers of these shards produce (numpy pads to 64 bytes;
    /// a longer header is read with a second request).
    public static let probeLength = 256

    /// Parses the header at the start of `prefix` and checks it against `memberSize`, the member's full length.
    /// Throws `NPYNeedMore` (with the total header length) when `prefix` is too short to contain the header, and
    /// a format problem for anything `np.load` would reject.
    public static func parse(_ prefix: [UInt8], memberSize: Int) throws -> NPYMemberHeader {
        func bad(_ m: String) -> NPYFormatProblem { NPYFormatProblem(message: m) }
        guard prefix.count >= 10, Array(prefix[0..<6]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] else {
            throw bad("not a .npy file (missing the \\x93NUMPY magic)")
        }
        let major = prefix[6]
        guard (1...3).contains(major), prefix[7] == 0 else { throw bad("unsupported .npy format version \(major).\(prefix[7])") }
        let lengthBytes = major == 1 ? 2 : 4
        guard prefix.count >= 8 + lengthBytes else { throw bad("header cut short") }
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(prefix[8 + i]) << (8 * i) }
        let start = 8 + lengthBytes
        guard start + headerLength <= memberSize else {
            throw bad("header length \(headerLength) runs past the member's \(memberSize) bytes")
        }
        guard start + headerLength <= prefix.count else { throw NPYNeedMore(total: start + headerLength) }
        let text = String(decoding: prefix[start..<(start + headerLength)], as: UTF8.self)
        let dict = try NPYHeaderDict.parse(text)
        guard let descr = dict.descr else { throw bad("header has no 'descr'") }
        let itemSize: Int
        switch descr {
        case "<f2": itemSize = 2
        case "<f4": itemSize = 4
        default: throw bad("dtype '\(descr)' is not supported (float16 '<f2' or float32 '<f4' expected)")
        }
        guard let shape = dict.shape else { throw bad("header has no 'shape'") }
        guard let fortran = dict.fortranOrder else { throw bad("header has no 'fortran_order'") }
        if fortran && shape.filter({ $0 > 1 }).count > 1 { throw bad("Fortran-order arrays are not supported") }
        var count = 1
        for d in shape {
            let (m, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw bad("shape \(shape) overflows") }
            count = m
        }
        let (need, needOverflow) = count.multipliedReportingOverflow(by: itemSize)
        guard !needOverflow else { throw bad("shape \(shape) overflows") }
        let have = memberSize - start - headerLength
        // np.load reads exactly the bytes the header announces and ignores anything after them.
        guard have >= need else {
            throw bad("data has \(have) bytes but '\(descr)' × shape \(shape) needs \(need) (truncated array)")
        }
        return NPYMemberHeader(itemSize: itemSize, shape: shape, dataOffset: start + headerLength)
    }
}

/// A header problem (turned into `WebDatasetError.badMember` by the caller, who knows the shard and key).
struct NPYFormatProblem: Error { var message: String }
/// The probe was too short: read `total` bytes and parse again.
struct NPYNeedMore: Error { var total: Int }

/// The three keys of an `.npy` header dict literal, e.g. `{'descr': '<f2', 'fortran_order': False, 'shape': (4, 32, 32), }`.
struct NPYHeaderDict {
    var descr: String?
    var fortranOrder: Bool?
    var shape: [Int]?

    static func parse(_ text: String) throws -> NPYHeaderDict {
        var s = Substring(text)
        func bad(_ m: String) -> NPYFormatProblem { NPYFormatProblem(message: "malformed header \(text.trimmingCharacters(in: .whitespacesAndNewlines).debugDescription): \(m)") }
        func skipSpace() { s = s.drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" } }
        func eat(_ c: Character) -> Bool {
            skipSpace()
            if s.first == c { s = s.dropFirst(); return true }
            return false
        }
        func quoted() throws -> String {
            skipSpace()
            guard let q = s.first, q == "'" || q == "\"" else { throw bad("expected a quoted string") }
            s = s.dropFirst()
            guard let end = s.firstIndex(of: q) else { throw bad("unterminated string") }
            let v = String(s[..<end])
            s = s[s.index(after: end)...]
            return v
        }
        func integer() throws -> Int {
            skipSpace()
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let v = Int(digits) else { throw bad("expected a non-negative integer") }
            s = s.dropFirst(digits.count)
            if s.first == "L" { s = s.dropFirst() }  // Python 2 longs in old files
            return v
        }
        var out = NPYHeaderDict()
        guard eat("{") else { throw bad("expected '{'") }
        while !eat("}") {
            let key = try quoted()
            guard eat(":") else { throw bad("expected ':'") }
            switch key {
            case "descr": out.descr = try quoted()
            case "fortran_order":
                skipSpace()
                if s.hasPrefix("True") { out.fortranOrder = true; s = s.dropFirst(4) }
                else if s.hasPrefix("False") { out.fortranOrder = false; s = s.dropFirst(5) }
                else { throw bad("fortran_order is not True or False") }
            case "shape":
                guard eat("(") else { throw bad("shape is not a tuple") }
                var dims: [Int] = []
                while !eat(")") {
                    dims.append(try integer())
                    if !eat(",") {
                        guard eat(")") else { throw bad("expected ',' or ')' in shape") }
                        break
                    }
                }
                out.shape = dims
            default:
                throw bad("unexpected key '\(key)'")
            }
            if !eat(",") {
                guard eat("}") else { throw bad("expected ',' or '}'") }
                break
            }
        }
        return out
    }
}

/// The data of an `.npy` member kept as raw little-endian bytes until a batch is assembled (float16 stays half
/// the size of the decoded floats while it waits in the shuffle buffer, as in the official loader).
public struct NPYPayload: Sendable, Equatable {
    public var itemSize: Int
    public var shape: [Int]
    public var bytes: [UInt8]

    public var elementCount: Int { bytes.count / itemSize }

    /// Widens the first `count` elements to `Float` into `out` (exact for float16).
    public func decode(count: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(count <= elementCount)
        bytes.withUnsafeBytes { raw in
            if itemSize == 2 {
                let table = halfToFloatTable
                table.withUnsafeBufferPointer { lut in
                    for i in 0..<count {
                        out[i] = lut[Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))]
                    }
                }
            } else {
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            }
        }
    }

    /// All elements as `Float`.
    public func floats() -> [Float] {
        let n = elementCount
        return [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            if let base = buffer.baseAddress { decode(count: n, into: base) }
            initialized = n
        }
    }
}

/// float16 bit pattern → Float for all 65,536 patterns (exact; MiroFormats' conversion, looked up instead of
/// recomputed because the loader widens ~10⁷ halves per batch at D = 2048).
let halfToFloatTable: [Float] = (0...0xFFFF).map { FloatConversions.float(fromHalf: UInt16($0)) }
