// Port of webdataset's `TarWriter` (webdataset 0.2.x `writer.py`, which data/preprocess_data.py's stage `vae`
// writes its enriched shards with) over Python's `tarfile` (ustar records): the writing side of `TarArchive`.
import Foundation

/// Writes a POSIX ustar archive member by member into a `FileHandle` (or into memory).
///
/// Deterministic on purpose: webdataset stamps each member with `time.time()`, so two runs of the official
/// script never give the same bytes. Here every header has the same fixed mtime (0), uid/gid 0, the
/// webdataset defaults for the rest (mode 0o444, user and group "bigdata"), and members are written in the order
/// given, so a rerun — or a run resumed after a kill — writes byte-identical shards.
///
/// Names longer than the 100-byte ustar field get a pax `x` header with a `path` record (what Python's
/// `tarfile` writes in PAX format), which `TarArchive` reads. The archive ends with two zero blocks and is padded
/// to a multiple of 10240 bytes (`tarfile`'s RECORDSIZE), as Python's writer does.
public final class TarWriter {
    public static let blockSize = 512
    public static let recordSize = 10240
    /// The largest member the 11-digit octal size field holds (8 GiB − 1).
    public static let maxMemberSize: Int64 = 0o77777777777

    private let sink: (Data) throws -> Void
    private var written: Int64 = 0
    private let mtime: Int
    private var finished = false
    /// The archive's name, for error messages.
    public let name: String

    /// Writes into `handle` (e.g. the temporary file of `AtomicFile.write`).
    public convenience init(handle: FileHandle, name: String, mtime: Int = 0) {
        self.init(name: name, mtime: mtime) { try handle.write(contentsOf: $0) }
    }

    /// Writes through `sink`.
    public init(name: String, mtime: Int = 0, sink: @escaping (Data) throws -> Void) {
        self.name = name
        self.mtime = mtime
        self.sink = sink
    }

    /// Appends one regular-file member.
    public func add(name memberName: String, data: some Collection<UInt8>) throws {
        guard !finished else { throw WebDatasetError.io(path: name, reason: "member '\(memberName)' added after the archive was finished") }
        let size = Int64(data.count)
        guard size <= Self.maxMemberSize else {
            throw WebDatasetError.io(path: name, reason: "member '\(printableName(memberName))' is \(size) bytes, more than a ustar header holds")
        }
        let nameBytes = Array(memberName.utf8)
        guard !nameBytes.isEmpty, !nameBytes.contains(0) else {
            throw WebDatasetError.io(path: name, reason: "member name '\(printableName(memberName))' is empty or holds a NUL byte")
        }
        if nameBytes.count > 100 {
            let record = Self.paxRecord(key: "path", value: nameBytes)
            try emit(Self.header(name: Array("././@PaxHeader".utf8), size: Int64(record.count), type: UInt8(ascii: "x"), mtime: mtime))
            try emitPadded(record)
        }
        try emit(Self.header(name: Array(nameBytes.prefix(100)), size: size, type: UInt8(ascii: "0"), mtime: mtime))
        try emitPadded(Array(data))
    }

    /// Writes the end-of-archive marker and the record padding. The writer accepts no member afterwards.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try emit([UInt8](repeating: 0, count: 2 * Self.blockSize))
        let rest = Int(written % Int64(Self.recordSize))
        if rest != 0 { try emit([UInt8](repeating: 0, count: Self.recordSize - rest)) }
    }

    /// A whole archive in memory: `members` in order, then `finish()`.
    public static func archive(_ members: [(name: String, data: [UInt8])], mtime: Int = 0) throws -> Data {
        var out = Data()
        let writer = TarWriter(name: "<memory>", mtime: mtime) { out.append($0) }
        for m in members { try writer.add(name: m.name, data: m.data) }
        try writer.finish()
        return out
    }

    // MARK: - Pieces

    private func emit(_ bytes: [UInt8]) throws {
        do { try sink(Data(bytes)) } catch {
            throw WebDatasetError.io(path: name, reason: "cannot write (\(error.localizedDescription))")
        }
        written += Int64(bytes.count)
    }

    private func emitPadded(_ bytes: [UInt8]) throws {
        try emit(bytes)
        let rest = bytes.count % Self.blockSize
        if rest != 0 { try emit([UInt8](repeating: 0, count: Self.blockSize - rest)) }
    }

    /// A ustar header block (POSIX magic "ustar\0" "00").
    static func header(name: [UInt8], size: Int64, type: UInt8, mtime: Int) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], at offset: Int) {
            for (i, b) in bytes.enumerated() { block[offset + i] = b }
        }
        func octal(_ value: Int64, width: Int) -> [UInt8] {
            // `width - 1` digits, zero-padded, then NUL (as `tarfile.itn` writes them).
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(name, at: 0)
        put(octal(0o444, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(size, width: 12), at: 124)
        put(octal(Int64(max(0, mtime)), width: 12), at: 136)
        block[156] = type
        put(Array("ustar\0".utf8), at: 257)
        put(Array("00".utf8), at: 263)
        put(Array("bigdata".utf8), at: 265)
        put(Array("bigdata".utf8), at: 297)
        put(octal(0, width: 8), at: 329)
        put(octal(0, width: 8), at: 337)
        // The checksum counts its own field as eight spaces; stored as six octal digits, NUL, space.
        put([UInt8](repeating: 0x20, count: 8), at: 148)
        let sum = block.reduce(0) { $0 + Int64($1) }
        let digits = String(sum, radix: 8)
        put(Array((String(repeating: "0", count: max(0, 6 - digits.count)) + digits).utf8) + [0, 0x20], at: 148)
        return block
    }

    /// `"%d key=value\n"`, where the decimal length counts the whole record, itself included.
    static func paxRecord(key: String, value: [UInt8]) -> [UInt8] {
        let body = Array(" \(key)=".utf8) + value + [0x0A]
        var length = body.count + 1
        while String(length).utf8.count + body.count != length { length = String(length).utf8.count + body.count }
        return Array(String(length).utf8) + body
    }
}
