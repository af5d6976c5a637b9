// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.4–§2.5): the tar layer under WIDS
// (`miro/data/wids/wids_mmtar.py`, `MMIndexedTar`) and Python's `tarfile` (used by `_count_samples_in_tar` and
// `scripts/build_coherence_bins_cache.py`).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Random access to the bytes of one archive. Readers ask for exact ranges; a source never returns fewer bytes
/// than asked (it throws instead), so the tar layer's bounds checks are the only place truncation is decided.
public protocol TarByteSource: Sendable {
    /// Total size in bytes.
    var byteCount: Int64 { get }
    /// Exactly `count` bytes starting at `offset` (the caller keeps the range inside `byteCount`).
    func read(offset: Int64, count: Int) throws -> [UInt8]
}

/// A file read with `pread(2)`.
///
/// Why not `mmap`: a shard that is truncated or replaced while mapped turns a read into SIGBUS, which would kill
/// a training run; `pread` turns it into an error the loader can count and skip. Reads come from the page cache
/// either way, and `pread` is safe to call from several threads on one descriptor.
public final class FileByteSource: TarByteSource, @unchecked Sendable {
    public let path: String
    public let byteCount: Int64
    private let fd: Int32

    public init(url: URL) throws {
        path = url.path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw WebDatasetError.io(path: path, reason: "cannot open (\(String(cString: strerror(errno))))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw WebDatasetError.io(path: path, reason: "cannot stat (\(reason))")
        }
        self.fd = fd
        byteCount = Int64(st.st_size)
    }

    deinit { close(fd) }

    public func read(offset: Int64, count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    initialized = 0
                    throw WebDatasetError.io(path: path, reason: "read of \(count) bytes at \(offset) failed (\(String(cString: strerror(errno))))")
                }
                if n == 0 {
                    initialized = 0
                    throw WebDatasetError.io(path: path, reason: "file shrank while reading (wanted \(count) bytes at \(offset))")
                }
                done += n
            }
            initialized = count
        }
    }
}

/// An archive held in memory (tests, or a shard already read by the caller).
public struct DataByteSource: TarByteSource {
    public let data: Data
    public init(_ data: Data) { self.data = data }
    public var byteCount: Int64 { Int64(data.count) }
    public func read(offset: Int64, count: Int) throws -> [UInt8] {
        let start = data.startIndex + Int(offset)
        return [UInt8](data[start..<(start + count)])
    }
}

/// One regular-file member of a tar archive: where its data lives, for random access by offset.
public struct TarMember: Sendable, Equatable, Codable {
    /// Full member path (ustar prefix, GNU long name or pax `path` applied).
    public var name: String
    /// Offset of the member's own ustar header (after any long-name / pax headers).
    public var headerOffset: Int64
    /// Offset of the first data byte.
    public var dataOffset: Int64
    /// Declared size in bytes.
    public var size: Int64
    /// Bytes actually present in the file (`< size` only for the last member of a truncated archive).
    public var available: Int64

    /// Whether all `size` bytes are in the file.
    public var isComplete: Bool { available >= size }
}

/// The result of a lenient scan: every member up to the first damage, and that damage (if any).
public struct TarScan: Sendable {
    /// Regular-file members in archive order. The last one may be incomplete (`isComplete == false`).
    public var members: [TarMember]
    /// Why the scan stopped early, or nil when it reached the end-of-archive marker or the end of the file.
    public var damage: WebDatasetError?
    /// The file ends inside a member's data or padding (or inside an extended header). Python's `tarfile`
    /// (3.11) refuses to list such an archive at all ("unexpected end of data"), while a bad checksum or a cut
    /// header after the first member only ends its listing early; the bins-cache builder mirrors that.
    public var endsInsideMember = false
}

/// A POSIX tar archive read by offset: ustar (with the 155-byte name prefix), GNU long names (typeflag `L`;
/// `K` long link names are read and dropped), pax extended headers (`x`: `path` and `size` records; global
/// `g` headers are skipped, as the brief asks — Python's `tarfile` would apply them), regular files (`0`,
/// NUL, `7`). Other member types (directories, links, devices) are skipped. Checksums are verified (unsigned or
/// signed byte sum, as `tarfile` accepts either); sizes may be octal or GNU base-256.
///
/// Differences from the official readers, all in the direction of reading more archives correctly:
/// `MMIndexedTar` (WIDS) knows neither GNU long names nor pax paths (it indexes the truncated 100-byte name and
/// the pax header pseudo-files) and does not verify checksums.
public final class TarArchive: Sendable {
    /// The shard path (or a label), used in every error message.
    public let name: String
    public let source: any TarByteSource

    public init(url: URL) throws {
        source = try FileByteSource(url: url)
        name = url.path
    }

    public init(source: any TarByteSource, name: String) {
        self.source = source
        self.name = name
    }

    public convenience init(data: Data, name: String) {
        self.init(source: DataByteSource(data), name: name)
    }

    /// All regular-file members; throws at the first damage (bad checksum, truncated header or member).
    public func members() throws -> [TarMember] {
        let result = scan()
        if let damage = result.damage { throw damage }
        return result.members
    }

    /// Reads headers until the end-of-archive marker (a zero block), the end of the file, or the first damage.
    /// Only headers are read (one 512-byte read per header), never member data.
    public func scan() -> TarScan {
        var members: [TarMember] = []
        var offset: Int64 = 0
        let total = source.byteCount
        var pendingName: String? = nil  // from a GNU 'L' or pax 'x' header, applies to the next header
        var pendingSize: Int64? = nil  // from a pax 'x' header
        func damage(_ member: String, _ at: Int64, _ reason: String, insideMember: Bool = false) -> TarScan {
            TarScan(members: members, damage: .tarDamaged(shard: name, member: member, offset: at, reason: reason),
                    endsInsideMember: insideMember)
        }
        while offset < total {
            guard total - offset >= 512 else {
                // A partial block at the end: tolerated when it is all zeros (padding), damage otherwise.
                let rest = (try? source.read(offset: offset, count: Int(total - offset))) ?? []
                if rest.allSatisfy({ $0 == 0 }) { break }
                return damage(pendingName ?? "", offset, "header cut short: \(total - offset) of 512 bytes present")
            }
            let block: [UInt8]
            do { block = try source.read(offset: offset, count: 512) } catch {
                return TarScan(members: members, damage: error as? WebDatasetError
                               ?? .io(path: name, reason: "\(error)"))
            }
            if block.allSatisfy({ $0 == 0 }) { break }  // end-of-archive marker
            let header = TarHeader(block)
            let rawName = header.fullName
            guard header.checksumMatches else {
                let stored = header.storedChecksum.map(String.init) ?? "unparsable"
                if offset == 0 {
                    // Nothing before it was a header either: the name field is whatever bytes the file holds.
                    return damage("", offset, "not a tar archive (the first header's checksum does not match: stored \(stored))")
                }
                return damage(pendingName ?? rawName, offset, "header checksum mismatch (stored \(stored))")
            }
            guard let declaredSize = header.size else {
                return damage(pendingName ?? rawName, offset, "unparsable size field")
            }
            // Sizes come from the file: one that cannot fit after this header (or would overflow the block
            // arithmetic below) is damage, not a trap.
            guard declaredSize <= Int64.max / 2, (pendingSize ?? 0) <= Int64.max / 2 else {
                return damage(pendingName ?? rawName, offset, "size field \(max(declaredSize, pendingSize ?? 0)) is not a plausible size")
            }
            let type = header.typeflag
            let isExtended = [UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"), UInt8(ascii: "g")].contains(type)
            // A pax `size` record describes the member after the extended header(s), never another extended header.
            let size = isExtended ? declaredSize : (pendingSize ?? declaredSize)
            let dataOffset = offset + 512
            let available = max(0, min(size, total - dataOffset))
            let next = dataOffset + (size + 511) / 512 * 512

            switch type {
            case UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"), UInt8(ascii: "g"):
                guard available == size else {
                    return damage(rawName, offset, "extended header data cut short: \(available) of \(size) bytes present",
                                  insideMember: true)
                }
                let payload: [UInt8]
                do { payload = try source.read(offset: dataOffset, count: Int(size)) } catch {
                    return damage(rawName, offset, "cannot read extended header (\(error))")
                }
                if type == UInt8(ascii: "L") {
                    pendingName = String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
                } else if type == UInt8(ascii: "x") {
                    guard let records = PaxRecords.parse(payload) else {
                        return damage(rawName, offset, "malformed pax extended header")
                    }
                    if let path = records["path"] { pendingName = path }
                    if let s = records["size"] {
                        guard let v = Int64(s), v >= 0 else { return damage(rawName, offset, "pax size '\(s)' is not a size") }
                        pendingSize = v
                    }
                }
                // 'K' (GNU long link name) and 'g' (pax global header) carry nothing a reader of regular files needs.
                offset = next
                continue
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
                let member = TarMember(name: pendingName ?? rawName, headerOffset: offset, dataOffset: dataOffset,
                                       size: size, available: available)
                members.append(member)
                if available < size {
                    return damage(member.name, offset, "member data cut short: \(available) of \(size) bytes present (truncated archive)",
                                  insideMember: true)
                }
                if next > total {
                    // The data is complete (the member stays usable) but its block padding is not.
                    return damage(member.name, offset, "archive ends inside the member's block padding (truncated archive)",
                                  insideMember: true)
                }
            default:
                break  // directories, links, devices, FIFOs: no sample data
            }
            pendingName = nil
            pendingSize = nil
            offset = next
        }
        return TarScan(members: members, damage: nil)
    }

    /// The whole data of `member`; throws when the member is incomplete.
    public func read(_ member: TarMember) throws -> [UInt8] {
        try read(member, range: 0..<member.size)
    }

    /// Bytes `range` (relative to the member's data) of `member`.
    public func read(_ member: TarMember, range: Range<Int64>) throws -> [UInt8] {
        guard range.lowerBound >= 0, range.upperBound <= member.size else {
            throw WebDatasetError.tarDamaged(shard: name, member: member.name, offset: member.headerOffset,
                                             reason: "range \(range) outside the member's \(member.size) bytes")
        }
        guard range.upperBound <= member.available else {
            throw WebDatasetError.tarDamaged(shard: name, member: member.name, offset: member.headerOffset,
                                             reason: "member data cut short: \(member.available) of \(member.size) bytes present (truncated archive)")
        }
        do {
            return try source.read(offset: member.dataOffset + range.lowerBound, count: Int(range.count))
        } catch let e as WebDatasetError {
            throw e
        } catch {
            throw WebDatasetError.io(path: name, reason: "\(error)")
        }
    }
}

/// The fields of one 512-byte ustar / GNU header that a reader needs.
struct TarHeader {
    let block: [UInt8]
    init(_ block: [UInt8]) { self.block = block }

    var typeflag: UInt8 { block[156] }

    /// POSIX ustar ("ustar\0" + "00") has a name prefix at 345..<500; the GNU magic ("ustar " + " \0") uses those
    /// bytes for other fields, so — like `tarfile` — the prefix is honoured only for the POSIX magic.
    var fullName: String {
        let name = Self.string(block[0..<100])
        let posix = Array(block[257..<263]) == Array("ustar\0".utf8)
        if posix {
            let prefix = Self.string(block[345..<500])
            if !prefix.isEmpty { return prefix + "/" + name }
        }
        return name
    }

    /// Octal ASCII (NUL/space terminated) or GNU base-256 (high bit of the first byte set).
    var size: Int64? { Self.number(block[124..<136]) }

    var storedChecksum: Int64? { Self.number(block[148..<156]) }

    /// `tarfile.calc_chksums`: the checksum field counts as eight spaces; unsigned and signed sums both pass.
    var checksumMatches: Bool {
        guard let stored = storedChecksum else { return false }
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (i, b) in block.enumerated() {
            let v: UInt8 = (148..<156).contains(i) ? 0x20 : b
            unsigned += Int64(v)
            signed += Int64(Int8(bitPattern: v))
        }
        return stored == unsigned || stored == signed
    }

    static func string(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func number(_ field: ArraySlice<UInt8>) -> Int64? {
        guard let first = field.first else { return nil }
        if first & 0x80 != 0 {
            // GNU base-256: big-endian two's complement over the whole field (0x80 positive, 0xff negative).
            guard first == 0x80 else { return nil }  // negative sizes are meaningless
            var v: Int64 = 0
            for b in field.dropFirst() {
                guard v <= (Int64.max >> 8) else { return nil }
                v = (v << 8) | Int64(b)
            }
            return v
        }
        var v: Int64 = 0
        var seenDigit = false
        for b in field {
            if b == 0 || (b == 0x20 && seenDigit) { break }
            if b == 0x20 { continue }  // leading spaces
            guard (0x30...0x37).contains(b), v <= (Int64.max >> 3) else { return nil }
            v = v * 8 + Int64(b - 0x30)
            seenDigit = true
        }
        return seenDigit ? v : (field.allSatisfy { $0 == 0 || $0 == 0x20 } ? 0 : nil)
    }
}

/// pax extended header records: `"%d %s=%s\n"`, the length counting the whole record.
enum PaxRecords {
    static func parse(_ bytes: [UInt8]) -> [String: String]? {
        var out: [String: String] = [:]
        var pos = 0
        while pos < bytes.count {
            if bytes[pos] == 0 { break }  // NUL padding after the last record
            var length = 0
            var p = pos
            while p < bytes.count, bytes[p] != 0x20 {
                guard (0x30...0x39).contains(bytes[p]), length < 1 << 30 else { return nil }
                length = length * 10 + Int(bytes[p] - 0x30)
                p += 1
            }
            let end = pos + length
            guard p < bytes.count, length > 0, end <= bytes.count, end > p + 1, bytes[end - 1] == 0x0A else { return nil }
            let record = bytes[(p + 1)..<(end - 1)]
            guard let eq = record.firstIndex(of: UInt8(ascii: "=")) else { return nil }
            let key = String(decoding: record[record.startIndex..<eq], as: UTF8.self)
            out[key] = String(decoding: record[(eq + 1)...], as: UTF8.self)
            pos = end
        }
        return out
    }
}
