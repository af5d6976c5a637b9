import Foundation
import Testing
import MiroFormats

/// `.pt` files written by `torch.save` (torch 1.13, scripts/make_pickle_fixtures.py) read back bit-exactly by the
/// restricted unpickler, and hostile or broken files refused with errors that say why.
@Suite("PyTorch zip checkpoints")
struct TorchCheckpointTests {
    struct ExpectedTensor: Decodable {
        var name: String
        var dtype: String
        var shape: [Int]
        var strides: [Int]
        var storageOffset: Int
        var hex: String
        enum CodingKeys: String, CodingKey { case name, dtype, shape, strides, hex, storageOffset = "storage_offset" }
    }

    struct ExpectedFile: Decodable {
        var tensors: [ExpectedTensor]
        var ignored: [String]
    }

    struct ExpectedAll: Decodable {
        var files: [String: ExpectedFile]
        var refused: [String: String]
    }

    static func expected() throws -> ExpectedAll {
        try JSONDecoder().decode(ExpectedAll.self, from: Fixtures.data("pickle/expected.json"))
    }

    static func url(_ name: String) throws -> URL { try Fixtures.url("pickle/" + name) }

    static func failure(_ body: () throws -> Void) -> FormatError? {
        do { try body() } catch let error as FormatError { return error } catch { return nil }
        return nil
    }

    @Test(arguments: ["plain.pt", "nested.pt", "mlp.pt", "params.pt"])
    func readsEveryTensorBitExactly(_ file: String) throws {
        let expected = try #require(try Self.expected().files[file])
        let checkpoint = try TorchCheckpoint(contentsOf: try Self.url(file))
        #expect(checkpoint.tensors.map(\.name) == expected.tensors.map(\.name))
        for (got, want) in zip(checkpoint.tensors, expected.tensors) {
            #expect(got.dtype.rawValue == want.dtype, "\(want.name)")
            #expect(got.shape == want.shape, "\(want.name)")
            #expect(got.strides == want.strides, "\(want.name)")
            #expect(got.storageOffset == want.storageOffset, "\(want.name)")
            #expect(got.bytes.hex == want.hex, "\(want.name)")
        }
        #expect(checkpoint.notes.count == expected.ignored.count, "\(checkpoint.notes)")
        for name in expected.ignored { #expect(checkpoint.notes.contains { $0.contains("'\(name)'") }, "\(name)") }
    }

    @Test func viewsAndSharedStorages() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: try Self.url("plain.pt"))
        let byName = Dictionary(uniqueKeysWithValues: checkpoint.tensors.map { ($0.name, $0) })
        let a = try #require(byName["shared_a"]), b = try #require(byName["shared_b"])
        let every = try #require(byName["every_other"]), t = try #require(byName["transposed"])
        #expect(a.storageKey == b.storageKey && b.storageKey == every.storageKey)
        #expect(b.storageOffset == 4 && every.strides == [2] && t.strides == [1, 4])
        // shared = arange(10) * 0.25 - 1: every_other holds elements 1, 3, 5, 7, 9.
        #expect(every.bytes == f32Bytes([1, 3, 5, 7, 9].map { Float($0) * 0.25 - 1 }))
        #expect(byName["empty"]?.bytes.isEmpty == true && byName["empty"]?.shape == [0, 5])
        #expect(byName["scalar"]?.shape == [] && byName["scalar"]?.bytes.count == 8)
    }

    @Test func keySelectsANestedDictionary() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: try Self.url("nested.pt"), key: "state_dict")
        #expect(checkpoint.tensors.map(\.name) == ["encoder.weight", "encoder.bias", "head.weight"])
        #expect(checkpoint.notes.isEmpty)
        let missing = Self.failure { _ = try TorchCheckpoint(contentsOf: try Self.url("nested.pt"), key: "model") }
        #expect(missing?.description.contains("no top-level key 'model' (keys: state_dict, epoch, name, lr)") == true,
                "\(String(describing: missing))")
    }

    @Test func convertsToSafeTensors() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: try Self.url("mlp.pt"))
        let file = try SafeTensorsFile(data: try SafeTensorsWriter.serialize(checkpoint.safeTensors))
        #expect(Set(file.names) == Set(checkpoint.tensors.map(\.name)))
        for tensor in checkpoint.tensors {
            let entry = try #require(file.entry(tensor.name))
            #expect(entry.shape == tensor.shape && entry.dtype == tensor.dtype)
            #expect(try file.bytes(tensor.name) == tensor.bytes)
        }
    }

    @Test(arguments: ["module.pt", "malicious.pt", "malicious4.pt"])
    func foreignGlobalsAreRefusedByName(_ file: String) throws {
        let global = try #require(try Self.expected().refused[file])
        let error = Self.failure { _ = try TorchCheckpoint(contentsOf: try Self.url(file)) }
        guard case .unsupported(let path, let message)? = error else {
            Issue.record("expected .unsupported, got \(String(describing: error))")
            return
        }
        #expect(path.hasSuffix(file))
        #expect(message.contains("'\(global)'") && message.contains("nothing was executed"), "\(message)")
    }

    @Test func compressedEntriesAreRefused() throws {
        let error = Self.failure { _ = try TorchCheckpoint(contentsOf: try Self.url("deflated.pt")) }
        #expect(error?.description.contains("is compressed (method 8)") == true, "\(String(describing: error))")
    }

    @Test func truncatedAndCorruptFilesAreClearErrors() throws {
        let bytes = try Data(contentsOf: try Self.url("plain.pt"))
        for cut in [0, 10, bytes.count / 2, bytes.count - 30, bytes.count - 1] {
            let error = Self.failure { _ = try TorchCheckpoint(data: bytes.prefix(cut), path: "cut.pt") }
            guard case .truncated(let path, let message)? = error else {
                Issue.record("cut at \(cut): expected .truncated, got \(String(describing: error))")
                continue
            }
            #expect(path == "cut.pt" && !message.isEmpty)
        }
        // A flipped byte inside the first storage (tensor f32's bytes) fails the CRC check.
        let f32 = try #require(try Self.expected().files["plain.pt"]?.tensors.first { $0.name == "f32" })
        let range = try #require(bytes.range(of: try Data(hex: f32.hex)))
        var corrupt = bytes
        corrupt[range.lowerBound] ^= 0xFF
        let error = Self.failure { _ = try TorchCheckpoint(data: corrupt, path: "corrupt.pt") }
        #expect(error?.description.contains("CRC-32") == true, "\(String(describing: error))")
    }

    @Test func hostilePicklesAreErrorsNotTraps() throws {
        let cases: [(String, [UInt8], String)] = [
            ("underflow", [0x80, 0x02, 0x52, 0x2E], "stack underflow"),
            ("no stop", [0x80, 0x02, 0x4E], "without a STOP"),
            ("huge string", [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F], "announces"),
            ("unknown memo", [0x80, 0x02, 0x68, 0x05, 0x2E], "memo key 5"),
            ("list key", [0x80, 0x02, 0x7D, 0x5D, 0x4E, 0x73, 0x2E], "dictionary key of type list"),
            ("long int", [0x80, 0x02, 0x8A, 0x09] + [UInt8](repeating: 1, count: 9) + [0x2E], "64 bits"),
            ("INST opcode", [0x80, 0x02, 0x69, 0x2E], "opcode 0x69"),
            ("call non-global", [0x80, 0x02, 0x4E, 0x29, 0x52, 0x2E], "REDUCE calls a None"),
            ("no tensors", [0x80, 0x02, 0x7D, 0x2E], "holds no tensors"),
        ]
        for (label, bytes, phrase) in cases {
            let file = StoredZip.build([("archive/data.pkl", Data(bytes))])
            let error = Self.failure { _ = try TorchCheckpoint(data: file, path: "x.pt") }
            #expect(error?.description.contains(phrase) == true, "\(label): \(String(describing: error))")
        }
        let legacy = Self.failure { _ = try TorchCheckpoint(data: Data([0x80, 0x02, 0x8A, 0x0A]), path: "old.pt") }
        #expect(legacy?.description.contains("legacy (pre-1.6 torch.save) pickle file") == true, "\(String(describing: legacy))")
        let big = StoredZip.build([("archive/data.pkl", Data([0x80, 0x02, 0x7D, 0x2E])), ("archive/byteorder", Data("big".utf8))])
        let error = Self.failure { _ = try TorchCheckpoint(data: big, path: "big.pt") }
        #expect(error?.description.contains("only little-endian") == true, "\(String(describing: error))")
    }

    /// torch ≥ 2.1 writes float8 and uint16/32/64 tensors as `_rebuild_tensor_v3(UntypedStorage, …, torch.<dtype>)`
    /// (torch/_tensor.py `_reduce_ex_internal`); torch 1.13 cannot, so the pickle is written by hand here.
    @Test func untypedStoragesWithRebuildTensorV3() throws {
        func u(_ s: String) -> [UInt8] { [0x58] + withUnsafeBytes(of: UInt32(s.utf8.count).littleEndian, Array.init) + Array(s.utf8) }
        func g(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
        func tensor(_ dtype: String, offset: UInt8, size: UInt8, stride: UInt8) -> [UInt8] {
            g("torch._utils", "_rebuild_tensor_v3") + [0x28, 0x28] + u("storage") + g("torch", "UntypedStorage") + u("0") + u("cpu")
                + [0x4B, 6, 0x74, 0x51, 0x4B, offset, 0x4B, size, 0x85, 0x4B, stride, 0x85, 0x89]
                + g("collections", "OrderedDict") + [0x29, 0x52] + g("torch", dtype) + [0x74, 0x52]
        }
        let pickle: [UInt8] = [0x80, 0x02, 0x7D] + u("q") + tensor("uint16", offset: 1, size: 2, stride: 1) + [0x73]
            + u("f") + tensor("float8_e4m3fn", offset: 0, size: 3, stride: 2) + [0x73, 0x2E]
        let file = StoredZip.build([("archive/data.pkl", Data(pickle)), ("archive/byteorder", Data("little".utf8)),
                                    ("archive/data/0", Data([1, 0, 2, 0, 3, 0]))])
        let checkpoint = try TorchCheckpoint(data: file, path: "v3.pt")
        #expect(checkpoint.tensors.map(\.name) == ["q", "f"])
        #expect(checkpoint.tensors.map(\.dtype) == [.u16, .f8E4M3])
        #expect(checkpoint.tensors.map(\.bytes) == [Data([2, 0, 3, 0]), Data([1, 2, 3])])
        // 7 bytes of uint16 do not divide: refused, not truncated silently.
        let odd = pickle.map { $0 }
        let bad = StoredZip.build([("archive/data.pkl", Data(odd.replacing([0x4B, 6, 0x74], with: [0x4B, 7, 0x74]))),
                                   ("archive/data/0", Data([1, 0, 2, 0, 3, 0, 4]))])
        let error = Self.failure { _ = try TorchCheckpoint(data: bad, path: "odd.pt") }
        #expect(error?.description.contains("U8 storage of 7 elements for dtype U16") == true, "\(String(describing: error))")
    }

    /// The entries of plain.pt re-packed with ZIP64 records (as torch writes past 4 GiB) read the same.
    @Test func zip64DirectoriesAreRead() throws {
        let original = try TorchCheckpoint(contentsOf: try Self.url("plain.pt"))
        let entries = try StoredZip.entries(of: Data(contentsOf: try Self.url("plain.pt")))
        let repacked = try TorchCheckpoint(data: StoredZip.build(entries, zip64: true), path: "zip64.pt")
        #expect(repacked.tensors == original.tensors)
    }
}

/// A minimal writer of stored zips (and a reader of their entries) for hand-made test files.
enum StoredZip {
    static func crc32(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
        }
        return crc ^ 0xFFFF_FFFF
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> Data {
        withUnsafeBytes(of: value.littleEndian) { Data($0) }
    }

    /// A zip with every entry stored; with `zip64`, the central directory puts sizes and offsets in ZIP64 extra
    /// fields and the end record points at a ZIP64 end record.
    static func build(_ entries: [(String, Data)], zip64: Bool = false) -> Data {
        var out = Data(), central = Data()
        for (name, bytes) in entries {
            let offset = out.count, crc = crc32(bytes), nameBytes = Data(name.utf8)
            out += le(UInt32(0x0403_4b50)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0)) + le(crc)
            out += le(UInt32(bytes.count)) + le(UInt32(bytes.count)) + le(UInt16(nameBytes.count)) + le(UInt16(0))
            out += nameBytes + bytes
            let extra = zip64 ? le(UInt16(1)) + le(UInt16(24)) + le(UInt64(bytes.count)) + le(UInt64(bytes.count)) + le(UInt64(offset)) : Data()
            let small: (Int) -> UInt32 = { zip64 ? 0xFFFF_FFFF : UInt32($0) }
            central += le(UInt32(0x0201_4b50)) + le(UInt16(45)) + le(UInt16(45)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0))
            central += le(crc) + le(small(bytes.count)) + le(small(bytes.count)) + le(UInt16(nameBytes.count))
            central += le(UInt16(extra.count)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0))
            central += le(small(offset)) + nameBytes + extra
        }
        let directoryOffset = out.count
        out += central
        if zip64 {
            let record = out.count
            out += le(UInt32(0x0606_4b50)) + le(UInt64(44)) + le(UInt16(45)) + le(UInt16(45)) + le(UInt32(0)) + le(UInt32(0))
            out += le(UInt64(entries.count)) + le(UInt64(entries.count)) + le(UInt64(central.count)) + le(UInt64(directoryOffset))
            out += le(UInt32(0x0706_4b50)) + le(UInt32(0)) + le(UInt64(record)) + le(UInt32(1))
            out += le(UInt32(0x0605_4b50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0xFFFF)) + le(UInt16(0xFFFF))
            out += le(UInt32(0xFFFF_FFFF)) + le(UInt32(0xFFFF_FFFF)) + le(UInt16(0))
        } else {
            out += le(UInt32(0x0605_4b50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(entries.count)) + le(UInt16(entries.count))
            out += le(UInt32(central.count)) + le(UInt32(directoryOffset)) + le(UInt16(0))
        }
        return out
    }

    /// The (name, bytes) of a stored zip written by Python's zipfile or torch (classic directory only).
    static func entries(of data: Data) throws -> [(String, Data)] {
        let bytes = [UInt8](data)
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        let eocd = try #require((0...(bytes.count - 22)).reversed().first { u32($0) == 0x0605_4b50 })
        var at = u32(eocd + 16)
        var out: [(String, Data)] = []
        for _ in 0..<u16(eocd + 10) {
            let nameLength = u16(at + 28), size = u32(at + 24), local = u32(at + 42)
            let name = String(decoding: bytes[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            out.append((name, Data(bytes[start..<(start + size)])))
            at += 46 + nameLength + u16(at + 30) + u16(at + 32)
        }
        return out
    }
}
