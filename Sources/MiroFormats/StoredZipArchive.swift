import Foundation

/// The zip container `torch.save` writes (PyTorch's `PyTorchStreamWriter`, miniz): every entry *stored*
/// (method 0, never compressed), data records padded to 64-byte alignment with an extra field in the local
/// header, and ZIP64 records once the file or an entry passes 4 GiB. Only what such files need is read: the
/// central directory (classic or ZIP64), each entry's local header (whose extra field differs from the central
/// one, so the data start is taken from it) and the CRC-32 of an entry when it is read. Anything else
/// (compression, encryption, multi-disk archives) is refused with a message saying so; every offset and length
/// from the file is bounds-checked before use.
struct StoredZipArchive {
    struct Entry {
        var name: String
        var method: UInt16
        var flags: UInt16
        var crc32: UInt32
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
    }

    let path: String
    let data: Data
    /// Entries in central-directory order.
    let entries: [Entry]
    private let index: [String: Int]

    init(data: Data, path: String) throws {
        self.path = path
        self.data = data
        let reader = ZipByteReader(data: data, path: path)
        let eocd = try Self.findEndOfCentralDirectory(reader)
        var count = Int(try reader.u16(eocd + 10))
        var directorySize = Int(try reader.u32(eocd + 12))
        var directoryOffset = Int(try reader.u32(eocd + 16))
        let disk = try reader.u16(eocd + 4), directoryDisk = try reader.u16(eocd + 6)
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: the locator sits just before the classic record and points at the ZIP64 record.
            let locator = eocd - 20
            guard locator >= 0, try reader.u32(locator) == 0x0706_4b50 else {
                throw FormatError.invalidHeader(path: path, message: "zip: the end record needs ZIP64 but no ZIP64 locator precedes it")
            }
            let record = try reader.int64(locator + 8, field: "ZIP64 end-of-central-directory offset")
            guard try reader.u32(record) == 0x0606_4b50 else {
                throw FormatError.invalidHeader(path: path, message: "zip: no ZIP64 end-of-central-directory record at offset \(record)")
            }
            count = try reader.int64(record + 32, field: "ZIP64 entry count")
            directorySize = try reader.int64(record + 40, field: "ZIP64 central directory size")
            directoryOffset = try reader.int64(record + 48, field: "ZIP64 central directory offset")
        } else if disk != 0 || directoryDisk != 0 {
            throw FormatError.unsupported(path: path, message: "zip: multi-disk archives are not supported")
        }
        guard directoryOffset <= data.count, directorySize <= data.count - directoryOffset else {
            throw FormatError.truncated(
                path: path, message: "zip: the central directory (offset \(directoryOffset), \(directorySize) bytes) runs past the end of the file (\(data.count) bytes)")
        }
        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var at = directoryOffset
        for n in 0..<count {
            guard try reader.u32(at) == 0x0201_4b50 else {
                throw FormatError.invalidHeader(path: path, message: "zip: central directory entry \(n) at offset \(at) has no signature")
            }
            let nameLength = Int(try reader.u16(at + 28)), extraLength = Int(try reader.u16(at + 30))
            let commentLength = Int(try reader.u16(at + 32))
            let nameBytes = try reader.bytes(at + 46, nameLength)
            guard let name = String(bytes: nameBytes, encoding: .utf8) else {
                throw FormatError.invalidHeader(path: path, message: "zip: entry \(n)'s name is not UTF-8")
            }
            var entry = Entry(name: name, method: try reader.u16(at + 10), flags: try reader.u16(at + 8),
                              crc32: try reader.u32(at + 16), compressedSize: Int(try reader.u32(at + 20)),
                              size: Int(try reader.u32(at + 24)), localHeaderOffset: Int(try reader.u32(at + 42)))
            try Self.applyZip64(&entry, extra: at + 46 + nameLength, length: extraLength, reader: reader)
            guard index[name] == nil else {
                throw FormatError.invalidHeader(path: path, message: "zip: two entries are named '\(name)'")
            }
            index[name] = entries.count
            entries.append(entry)
            at += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
        self.index = index
    }

    /// The entry named `name`, or nil.
    func entry(named name: String) -> Entry? {
        index[name].map { entries[$0] }
    }

    /// An entry's bytes (a slice of the mapped file), after checking it is stored, in bounds and CRC-correct.
    func contents(of entry: Entry) throws -> Data {
        guard entry.flags & 0x1 == 0 else {
            throw FormatError.unsupported(path: path, message: "zip: entry '\(entry.name)' is encrypted")
        }
        guard entry.method == 0 else {
            throw FormatError.unsupported(
                path: path, message: "zip: entry '\(entry.name)' is compressed (method \(entry.method)); torch.save stores entries uncompressed — re-save the checkpoint with torch.save")
        }
        guard entry.compressedSize == entry.size else {
            throw FormatError.invalidHeader(path: path, message: "zip: stored entry '\(entry.name)' has compressed size \(entry.compressedSize) ≠ size \(entry.size)")
        }
        let reader = ZipByteReader(data: data, path: path)
        let local = entry.localHeaderOffset
        guard try reader.u32(local) == 0x0403_4b50 else {
            throw FormatError.invalidHeader(path: path, message: "zip: no local header for '\(entry.name)' at offset \(local)")
        }
        let start = local + 30 + Int(try reader.u16(local + 26)) + Int(try reader.u16(local + 28))
        guard start <= data.count, entry.size <= data.count - start else {
            throw FormatError.truncated(
                path: path, message: "zip: entry '\(entry.name)' (\(entry.size) bytes at offset \(start)) runs past the end of the file (\(data.count) bytes)")
        }
        let bytes = data[data.startIndex + start ..< data.startIndex + start + entry.size]
        let crc = CRC32.checksum(bytes)
        guard crc == entry.crc32 else {
            throw FormatError.invalidLayout(
                path: path, message: "zip: entry '\(entry.name)' has CRC-32 \(String(crc, radix: 16)) but the directory says \(String(entry.crc32, radix: 16)) (corrupt file)")
        }
        return bytes
    }

    // MARK: - Structure

    private static func findEndOfCentralDirectory(_ reader: ZipByteReader) throws -> Int {
        let count = reader.data.count
        guard count >= 22 else {
            throw FormatError.truncated(path: reader.path, message: "file is \(count) bytes, too short for a zip archive")
        }
        // The record is 22 bytes plus a comment of at most 65535 bytes, so it starts in the last 65557 bytes.
        var at = count - 22
        let lowest = max(0, count - 22 - 0xFFFF)
        while at >= lowest {
            if try reader.u32(at) == 0x0605_4b50, at + 22 + Int(try reader.u16(at + 20)) == count { return at }
            at -= 1
        }
        throw FormatError.truncated(
            path: reader.path, message: "not a complete zip archive (no end-of-central-directory record; truncated, or not a torch.save zip file)")
    }

    /// Replaces the 0xFFFFFFFF placeholders of `entry` by the values of its ZIP64 extra field (id 0x0001), which
    /// lists, in this order, only those of size, compressed size and local offset that overflowed.
    private static func applyZip64(_ entry: inout Entry, extra: Int, length: Int, reader: ZipByteReader) throws {
        var at = extra
        let end = extra + length
        while at + 4 <= end {
            let id = try reader.u16(at), size = Int(try reader.u16(at + 2))
            guard at + 4 + size <= end else {
                throw FormatError.invalidHeader(path: reader.path, message: "zip: entry '\(entry.name)' has an extra field running past its end")
            }
            if id == 0x0001 {
                var field = at + 4
                func next() throws -> Int {
                    guard field + 8 <= at + 4 + size else {
                        throw FormatError.invalidHeader(path: reader.path, message: "zip: entry '\(entry.name)' has a short ZIP64 extra field")
                    }
                    defer { field += 8 }
                    return try reader.int64(field, field: "ZIP64 size of '\(entry.name)'")
                }
                if entry.size == 0xFFFF_FFFF { entry.size = try next() }
                if entry.compressedSize == 0xFFFF_FFFF { entry.compressedSize = try next() }
                if entry.localHeaderOffset == 0xFFFF_FFFF { entry.localHeaderOffset = try next() }
            }
            at += 4 + size
        }
    }
}

/// Little-endian reads at absolute offsets with bounds checks (a read past the end is `truncated`).
struct ZipByteReader {
    let data: Data
    let path: String

    func bytes(_ offset: Int, _ count: Int) throws -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= data.count, count <= data.count - offset else {
            throw FormatError.truncated(path: path, message: "zip: a \(count)-byte field at offset \(offset) runs past the end of the file (\(data.count) bytes)")
        }
        return [UInt8](data[data.startIndex + offset ..< data.startIndex + offset + count])
    }

    func u16(_ offset: Int) throws -> UInt16 {
        let b = try bytes(offset, 2)
        return UInt16(b[0]) | UInt16(b[1]) << 8
    }

    func u32(_ offset: Int) throws -> UInt32 {
        let b = try bytes(offset, 4)
        return b.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// A u64 that must fit an `Int` and the file (offsets, sizes, counts).
    func int64(_ offset: Int, field: String) throws -> Int {
        let b = try bytes(offset, 8)
        let value = b.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard value <= UInt64(data.count) else {
            throw FormatError.invalidHeader(path: path, message: "zip: \(field) is \(value), beyond the file's \(data.count) bytes")
        }
        return Int(value)
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) as zip uses it.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                for byte in raw { crc = t[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
