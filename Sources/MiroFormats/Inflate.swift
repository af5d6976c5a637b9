/// A small pure-Swift DEFLATE (RFC 1951) decoder with the gzip (RFC 1952) and zlib (RFC 1950) containers.
///
/// Port of nothing in particular: it exists because open_clip ships its BPE merges as `bpe_simple_vocab_16e6.txt.gz`
/// (read by Python's `gzip.open`), PNG image data is a zlib stream, and Foundation on Linux has neither API. It
/// decodes stored, fixed-Huffman and dynamic-Huffman blocks and checks each container's trailer (CRC-32 and length,
/// or Adler-32), so a truncated or corrupt file is an error rather than silently different bytes. Every length,
/// distance and code comes from the file, so all of them are range-checked and reported as
/// `FormatError.invalidLayout` (or `.truncated`) naming `path`.
import Foundation

public enum Inflate {
    /// Decompresses a whole gzip file (all members concatenated, as `gzip.open(...).read()` does).
    public static func gunzip(_ data: [UInt8], path: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        repeat {
            offset = try gunzipMember(data, from: offset, into: &out, path: path)
        } while offset < data.count
        return out
    }

    private static func gunzipMember(_ data: [UInt8], from start: Int, into out: inout [UInt8], path: String) throws -> Int {
        func bad(_ message: String) -> FormatError { .invalidLayout(path: path, message: "gzip: \(message)") }
        guard data.count - start >= 18 else { throw bad("file is \(data.count - start) bytes from offset \(start), shorter than a gzip header and trailer") }
        guard data[start] == 0x1f, data[start + 1] == 0x8b else {
            throw bad("magic bytes are \(data[start]), \(data[start + 1]); expected 31, 139 (not a gzip file)")
        }
        guard data[start + 2] == 8 else { throw bad("compression method \(data[start + 2]) is not 8 (deflate)") }
        let flags = data[start + 3]
        guard flags & 0xE0 == 0 else { throw bad("reserved header flags set (\(flags))") }
        var p = start + 10
        func need(_ n: Int) throws { guard p + n <= data.count else { throw bad("header runs past the end of the file") } }
        if flags & 0x04 != 0 {  // FEXTRA
            try need(2)
            let xlen = Int(data[p]) | Int(data[p + 1]) << 8
            p += 2
            try need(xlen)
            p += xlen
        }
        for bit: UInt8 in [0x08, 0x10] where flags & bit != 0 {  // FNAME, FCOMMENT: zero-terminated
            while true {
                try need(1)
                p += 1
                if data[p - 1] == 0 { break }
            }
        }
        if flags & 0x02 != 0 { try need(2); p += 2 }  // FHCRC
        let before = out.count
        var reader = BitReader(bytes: data, position: p, path: path)
        try inflate(&reader, into: &out)
        p = reader.alignedBytePosition
        guard p + 8 <= data.count else { throw bad("trailer (CRC-32 and length) is missing: the file is truncated") }
        let crc = UInt32(data[p]) | UInt32(data[p + 1]) << 8 | UInt32(data[p + 2]) << 16 | UInt32(data[p + 3]) << 24
        let isize = UInt32(data[p + 4]) | UInt32(data[p + 5]) << 8 | UInt32(data[p + 6]) << 16 | UInt32(data[p + 7]) << 24
        let member = out[before...]
        let actual = ZlibChecksums.crc32(member)
        guard actual == crc else { throw bad("CRC-32 of the decompressed data is \(actual), the trailer says \(crc)") }
        guard UInt32(truncatingIfNeeded: member.count) == isize else {
            throw bad("decompressed length is \(member.count), the trailer says \(isize)")
        }
        return p + 8
    }

    /// Decompresses a zlib stream (RFC 1950: the 2-byte header, DEFLATE blocks, the big-endian Adler-32 of the
    /// output), as Python's `zlib.decompress` does. Bytes after the trailer are ignored, as PNG readers do.
    public static func zlib(_ data: [UInt8], path: String) throws -> [UInt8] {
        func bad(_ message: String) -> FormatError { .invalidLayout(path: path, message: "zlib: \(message)") }
        guard data.count >= 6 else { throw bad("stream is \(data.count) bytes, shorter than a zlib header and trailer") }
        guard data[0] & 0x0F == 8, (Int(data[0]) << 8 | Int(data[1])) % 31 == 0 else {
            throw bad("header bytes \(data[0]), \(data[1]) are not a zlib deflate header")
        }
        guard data[1] & 0x20 == 0 else { throw bad("a preset dictionary is required (FDICT), which PNG forbids") }
        var out: [UInt8] = []
        var reader = BitReader(bytes: data, position: 2, path: path)
        try inflate(&reader, into: &out)
        let p = reader.alignedBytePosition
        guard p + 4 <= data.count else { throw FormatError.truncated(path: path, message: "zlib: the Adler-32 trailer is missing") }
        let stored = data[p..<(p + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let actual = ZlibChecksums.adler32(out)
        guard actual == stored else { throw bad("Adler-32 of the decompressed data is \(actual), the trailer says \(stored)") }
        return out
    }

    /// Decodes raw DEFLATE blocks until the final one.
    static func inflate(_ r: inout BitReader, into out: inout [UInt8]) throws {
        var final = false
        while !final {
            final = try r.bits(1) == 1
            switch try r.bits(2) {
            case 0:
                try r.storedBlock(into: &out)
            case 1:
                try inflateBlock(&r, literal: Huffman.fixedLiteral, distance: Huffman.fixedDistance, into: &out)
            case 2:
                let (lit, dist) = try dynamicTables(&r)
                try inflateBlock(&r, literal: lit, distance: dist, into: &out)
            default:
                throw r.error("deflate block type 3 is reserved")
            }
        }
    }

    private static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                                          4097, 6145, 8193, 12289, 16385, 24577]
    private static let distExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    /// The order in which code-length code lengths are stored (RFC 1951 §3.2.7).
    private static let clOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    private static func inflateBlock(_ r: inout BitReader, literal: Huffman, distance: Huffman, into out: inout [UInt8]) throws {
        while true {
            let sym = try literal.decode(&r)
            if sym < 256 {
                out.append(UInt8(sym))
            } else if sym == 256 {
                return
            } else {
                let li = sym - 257
                guard li < lengthBase.count else { throw r.error("invalid length symbol \(sym)") }
                let length = lengthBase[li] + (try r.bits(lengthExtra[li]))
                let ds = try distance.decode(&r)
                guard ds < distBase.count else { throw r.error("invalid distance symbol \(ds)") }
                let dist = distBase[ds] + (try r.bits(distExtra[ds]))
                guard dist <= out.count else { throw r.error("back-reference distance \(dist) exceeds the \(out.count) bytes decoded so far") }
                let from = out.count - dist
                // Overlapping copies are the point (runs), so copy byte by byte.
                for k in 0..<length { out.append(out[from + k]) }
            }
        }
    }

    private static func dynamicTables(_ r: inout BitReader) throws -> (Huffman, Huffman) {
        let hlit = try r.bits(5) + 257
        let hdist = try r.bits(5) + 1
        let hclen = try r.bits(4) + 4
        guard hlit <= 286, hdist <= 30 else { throw r.error("dynamic block declares \(hlit) literal and \(hdist) distance codes") }
        var clLengths = [Int](repeating: 0, count: 19)
        for i in 0..<hclen { clLengths[clOrder[i]] = try r.bits(3) }
        let clCode = try Huffman(lengths: clLengths, reader: r)
        var lengths: [Int] = []
        lengths.reserveCapacity(hlit + hdist)
        while lengths.count < hlit + hdist {
            let sym = try clCode.decode(&r)
            switch sym {
            case 0...15:
                lengths.append(sym)
            case 16:
                guard let last = lengths.last else { throw r.error("repeat code 16 with no previous length") }
                lengths += repeatElement(last, count: 3 + (try r.bits(2)))
            case 17:
                lengths += repeatElement(0, count: 3 + (try r.bits(3)))
            default:
                lengths += repeatElement(0, count: 11 + (try r.bits(7)))
            }
        }
        guard lengths.count == hlit + hdist else { throw r.error("code-length repeats overrun the \(hlit + hdist) declared codes") }
        guard lengths[256] > 0 else { throw r.error("dynamic block has no end-of-block code") }
        return (try Huffman(lengths: Array(lengths[0..<hlit]), reader: r), try Huffman(lengths: Array(lengths[hlit...]), reader: r))
    }
}

/// LSB-first bit reader over a byte array (DEFLATE's bit order).
struct BitReader {
    let bytes: [UInt8]
    var position: Int
    var bitBuffer: UInt64 = 0
    var bitCount = 0
    let path: String

    init(bytes: [UInt8], position: Int, path: String) {
        self.bytes = bytes
        self.position = position
        self.path = path
    }

    func error(_ message: String) -> FormatError { .invalidLayout(path: path, message: "deflate: \(message)") }

    /// Buffers at least `n` bits when the input has them (fewer near its end; never throws).
    @inline(__always) mutating func fill(_ n: Int) {
        while bitCount < n && position < bytes.count {
            bitBuffer |= UInt64(bytes[position]) << UInt64(bitCount)
            position += 1
            bitCount += 8
        }
    }

    /// Consumes `n ≤ bitCount` buffered bits.
    @inline(__always) mutating func drop(_ n: Int) {
        bitBuffer >>= UInt64(n)
        bitCount -= n
    }

    mutating func bits(_ n: Int) throws -> Int {
        while bitCount < n {
            guard position < bytes.count else { throw error("compressed data ends in the middle of a block (truncated file)") }
            bitBuffer |= UInt64(bytes[position]) << UInt64(bitCount)
            position += 1
            bitCount += 8
        }
        let v = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        bitBuffer >>= UInt64(n)
        bitCount -= n
        return v
    }

    /// The byte after the last one consumed, once the partial byte is dropped (the buffer never holds a whole
    /// unconsumed byte beyond the current one except after `bits`, so give those back).
    var alignedBytePosition: Int { position - bitCount / 8 }

    mutating func storedBlock(into out: inout [UInt8]) throws {
        // Drop the rest of the current byte, then give back any whole bytes the buffer read ahead.
        position -= bitCount / 8
        bitBuffer = 0
        bitCount = 0
        guard position + 4 <= bytes.count else { throw error("stored block header is truncated") }
        let len = Int(bytes[position]) | Int(bytes[position + 1]) << 8
        let nlen = Int(bytes[position + 2]) | Int(bytes[position + 3]) << 8
        guard len == (~nlen & 0xFFFF) else { throw error("stored block length \(len) does not match its complement \(nlen)") }
        position += 4
        guard position + len <= bytes.count else { throw error("stored block of \(len) bytes runs past the end of the file") }
        out += bytes[position..<(position + len)]
        position += len
    }
}

/// A canonical Huffman decoder (RFC 1951 §3.2.2): codes of up to `fastBits` bits through one table lookup (PNG image
/// data is megabytes), longer or invalid ones bit by bit over per-length counts.
struct Huffman {
    var counts: [Int]   // number of codes of each length 0...15
    var symbols: [Int]  // symbols ordered by code
    /// Indexed by the next `fastBits` input bits (LSB first): `length << 9 | symbol`, 0 for "not a short code".
    var fast: [UInt16]
    static let fastBits = 10

    /// A code from the file: rejected when over-subscribed (more codes of some length than the bits allow).
    init(lengths: [Int], reader: BitReader) throws {
        self.init(unchecked: lengths)
        var left = 1
        for len in 1...15 {
            left <<= 1
            left -= counts[len]
            guard left >= 0 else { throw reader.error("over-subscribed Huffman code lengths") }
        }
    }

    /// Lengths must be 0...15 (the callers read them as 3- or 4-bit fields, or are the fixed tables).
    private init(unchecked lengths: [Int]) {
        counts = [Int](repeating: 0, count: 16)
        for l in lengths { counts[l] += 1 }
        counts[0] = 0
        var offsets = [Int](repeating: 0, count: 16)
        for len in 1..<15 { offsets[len + 1] = offsets[len] + counts[len] }
        symbols = [Int](repeating: 0, count: lengths.count)
        for (sym, l) in lengths.enumerated() where l != 0 {
            symbols[offsets[l]] = sym
            offsets[l] += 1
        }
        // Canonical codes: consecutive within a length, in symbol order; the stream sends them MSB first, and the
        // reader takes bits LSB first, so the table index is the bit-reversed code (every completion of it).
        fast = [UInt16](repeating: 0, count: 1 << Self.fastBits)
        var next = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1...15 {
            code = (code + counts[len - 1]) << 1
            next[len] = code
        }
        for (sym, len) in lengths.enumerated() where len != 0 {
            let c = next[len]
            next[len] += 1
            guard len <= Self.fastBits, c < 1 << len else { continue }  // c ≥ 2^len: over-subscribed, rejected above
            var reversed = 0
            for b in 0..<len where c & (1 << b) != 0 { reversed |= 1 << (len - 1 - b) }
            for index in stride(from: reversed, to: 1 << Self.fastBits, by: 1 << len) {
                fast[index] = UInt16(len << 9 | sym)
            }
        }
    }

    func decode(_ r: inout BitReader) throws -> Int {
        r.fill(Self.fastBits)
        let entry = Int(fast[Int(r.bitBuffer & UInt64((1 << Self.fastBits) - 1))])
        let len = entry >> 9
        if entry != 0 && len <= r.bitCount {
            r.drop(len)
            return entry & 0x1FF
        }
        var code = 0, first = 0, index = 0
        for len in 1...15 {
            code |= try r.bits(1)
            let count = counts[len]
            if code - count < first { return symbols[index + (code - first)] }
            index += count
            first += count
            first <<= 1
            code <<= 1
        }
        throw r.error("invalid Huffman code")
    }

    static let fixedLiteral = Huffman(unchecked: Array(repeating: 8, count: 144) + Array(repeating: 9, count: 112)
        + Array(repeating: 7, count: 24) + Array(repeating: 8, count: 8))
    static let fixedDistance = Huffman(unchecked: Array(repeating: 5, count: 30))
}
