import Foundation
import Testing
import MiroFormats

@Suite("safetensors reader")
struct SafeTensorsReadTests {
    static let files = ["mixed.safetensors", "no_metadata.safetensors", "empty.safetensors",
                        "multi_metadata.safetensors", "raw_dtypes.safetensors"]

    @Test("Python-written fixtures read bit-exactly", arguments: files)
    func readsFixture(name: String) throws {
        let expected = try #require(try Fixtures.expected().safetensors[name])
        let file = try SafeTensorsFile(contentsOf: Fixtures.url(name))
        #expect(file.names == expected.order)
        #expect(file.metadata == (expected.metadata ?? [:]))
        #expect(Set(file.names) == Set(expected.tensors.keys))
        for (tensorName, tensor) in expected.tensors {
            let entry = try #require(file.entry(tensorName))
            #expect(entry.dtype.rawValue == tensor.dtype, "\(tensorName)")
            #expect(entry.shape == tensor.shape, "\(tensorName)")
            #expect(try file.bytes(tensorName) == Data(hex: tensor.hex), "\(tensorName)")
            #expect(entry.byteCount == tensor.hex.count / 2)
        }
    }

    @Test("mixed fixture: concrete values and layout")
    func mixedValues() throws {
        let file = try SafeTensorsFile(contentsOf: Fixtures.url("mixed.safetensors"))
        #expect(file.metadata == ["format": "np"])
        #expect(file.names.first == "u64")  // U64 has the highest alignment rank, so the reference writes it first
        #expect(try file.floats("layer.bias").map(\.bitPattern) == [0x8000_0000, 0x0000_0001, 0x7F61_B1E6, 0xBFC0_0000])
        #expect(try file.floats("half") == [0, -0.0, 0x1p-24, 65504, -1.0009765625, 0.333251953125])
        #expect(try file.doubles("ids") == [-4_611_686_018_427_387_904, 9_007_199_254_740_992, 42])
        #expect(try file.doubles("mask") == [1, 0, 1, 1])
        #expect(try file.doubles("u64") == [0x1p64, 3])  // 2⁶⁴ − 1 rounds to 2⁶⁴ in Double
        let scalar = try #require(file.entry("scalar"))
        #expect(scalar.shape == [] && scalar.elementCount == 1 && scalar.byteCount == 4)
        #expect(try file.floats("scalar") == [2.75])
        let empty = try #require(file.entry("empty"))
        #expect(empty.shape == [0, 3] && empty.byteCount == 0)
        #expect(try file.floats("empty").isEmpty)
        // Every tensor is naturally aligned in the file, which is why the writer orders by alignment.
        for entry in file.entries {
            let size = try #require(entry.dtype.elementByteSize)
            #expect((8 + file.headerLength + entry.dataOffsets.lowerBound) % size == 0, "\(entry.name)")
        }
    }

    @Test("BF16 and FP8 tensors decode to exact values")
    func reducedPrecision() throws {
        let file = try SafeTensorsFile(contentsOf: Fixtures.url("raw_dtypes.safetensors"))
        #expect(try file.floats("bf16") == [1.0, -2.5, 3.140625, 0.00099945068359375, 65280.0, -0.0])
        let e4m3 = try file.floats("e4m3")
        #expect(e4m3.count == 127)
        #expect(e4m3[0x01] == 0x1p-9)  // smallest subnormal
        #expect(e4m3[0x38] == 1.0)
        #expect(e4m3[0x7E] == 448.0)  // max finite
        #expect(try file.floats("e5m2")[0x7B] == 57344.0)
        #expect(try file.floats("e8m0").first == 0x1p-15)
        #expect(file.entry("fp4")?.shape == [4])
        #expect(file.entry("fp4")?.byteCount == 2)
        expectFormatError(path: file.path, contains: ["'fp4'", "F4"]) { _ = try file.floats("fp4") }
        #expect(file.metadata["miro.config"] == "{\"name\": \"tiny \\u00e9\", \"path\": \"a/b\", \"note\": \"tab\\there\"}\n\u{01}")
    }

    @Test("withBytes lends the mapped bytes without copying; unknown names throw")
    func withBytes() throws {
        let file = try SafeTensorsFile(contentsOf: Fixtures.url("no_metadata.safetensors"))
        let sum = try file.withBytes("only") { raw -> Float in
            (0..<3).reduce(0) { $0 + Float(bitPattern: raw.loadUnaligned(fromByteOffset: $1 * 4, as: UInt32.self)) }
        }
        #expect(sum == 6)
        expectFormatError(path: file.path, contains: ["no tensor named 'missing'"]) {
            _ = try file.withBytes("missing") { $0.count }
        }
        #expect(throws: FormatError.tensorNotFound(path: file.path, name: "nope")) { try file.bytes("nope") }
        #expect(file.entry("missing") == nil)
    }

    @Test("an in-memory slice with a non-zero start index reads correctly")
    func sliceInput() throws {
        let raw = try Fixtures.data("mixed.safetensors")
        let padded = Data([0xAA, 0xBB, 0xCC]) + raw
        let slice = padded[3...]
        #expect(slice.startIndex == 3)
        let file = try SafeTensorsFile(data: slice)
        #expect(file.path == "<memory>")
        #expect(try file.doubles("pixels") == [0, 127, 255, 1, 2, 3])
    }

    @Test("accepted variations: trailing spaces, null metadata, empty tensors sharing an offset")
    func acceptedVariations() throws {
        let header = #"{"__metadata__":null,"b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"#
            + #""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"I8","shape":[0,5],"data_offsets":[4,4]}}   "#
        let file = try SafeTensorsFile(data: safetensorsBytes(header: header, buffer: [0, 0, 0x80, 0x3F]))
        #expect(file.names == ["a", "b", "c"])
        #expect(file.metadata.isEmpty)
        #expect(try file.floats("a") == [1])
    }

    @Test("dtype table matches the reference enum order and sizes")
    func dtypeTable() {
        #expect(SafeTensorsDType.allCases.map(\.rawValue) == [
            "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
            "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64",
        ])
        #expect(SafeTensorsDType.f4.bitWidth == 4 && SafeTensorsDType.f6E3M2.bitWidth == 6)
        #expect(SafeTensorsDType.c64.elementByteSize == 8 && SafeTensorsDType.f4.elementByteSize == nil)
        #expect(SafeTensorsDType.f4.byteCount(forShape: [3, 2]) == .success(3))
        #expect(SafeTensorsDType.f6E2M3.byteCount(forShape: [4]) == .success(3))
        #expect(SafeTensorsDType.f6E2M3.byteCount(forShape: [2]) == .failure(.misalignedSubByte(bits: 12)))
        #expect(SafeTensorsDType.f32.byteCount(forShape: []) == .success(4))
        #expect(SafeTensorsDType.f32.byteCount(forShape: [Int.max, 2]) == .failure(.overflow))
        #expect(SafeTensorsDType.u64.alignmentRank > SafeTensorsDType.i64.alignmentRank)
    }
}
