import Foundation
import Testing
import MiroFormats

@Suite("npy")
struct NPYTests {
    static let files = ["f2_2x3.npy", "f4_2x3x4.npy", "f8_5.npy", "i4_3.npy", "i8_4.npy", "b1_2x2.npy", "u1_3x2.npy",
                        "f4_scalar.npy", "f4_empty.npy", "f4_long_dim.npy", "f4_aligned_header.npy", "f4_v2.npy", "f4_v3.npy"]

    @Test("numpy-written fixtures read bit-exactly and re-serialize to the same bytes", arguments: files)
    func fixture(name: String) throws {
        let expected = try #require(try Fixtures.expected().npy[name])
        let original = try Fixtures.data(name)
        let array = try NPYArray.read(contentsOf: Fixtures.url(name))
        #expect(array.dtype.rawValue == expected.descr)
        #expect(array.shape == expected.shape)
        #expect(array.data == (try Data(hex: expected.hex)))
        let version = try #require(NPYFormatVersion(rawValue: UInt8(expected.version[0])))
        #expect(array.serialize(minimumVersion: version) == original)
        if version == .v1 { #expect(array.serialize() == original) }
    }

    @Test("concrete values")
    func values() throws {
        let f4 = try NPYArray(contentsOf: Fixtures.url("f4_2x3x4.npy"))
        #expect(f4.shape == [2, 3, 4] && f4.elementCount == 24)
        #expect(try f4.floats().first == -11.5 / 3)
        #expect(try f4.floats().last == Float(11.5) / 3)
        #expect(try NPYArray(contentsOf: Fixtures.url("f2_2x3.npy")).floats() == [0.5, -1, 65504, 0x1p-24, -0.0, 0.0999755859375])
        #expect(try NPYArray(contentsOf: Fixtures.url("b1_2x2.npy")).data == Data([1, 0, 0, 1]))
        #expect(try NPYArray(contentsOf: Fixtures.url("i8_4.npy")).floats() == [-0x1p63, -1, 0, 0x1p62])
        let scalar = try NPYArray(contentsOf: Fixtures.url("f4_scalar.npy"))
        #expect(scalar.shape == [] && scalar.elementCount == 1)
        #expect(try scalar.floats() == [-3.25])
        #expect(try NPYArray(contentsOf: Fixtures.url("f4_empty.npy")).shape == [0, 4])
        // numpy pads an already aligned header with a full 64 spaces; so do we.
        let aligned = try Fixtures.data("f4_aligned_header.npy")
        let headerEnd = 10 + Int(aligned[8]) + Int(aligned[9]) * 256
        #expect(aligned[headerEnd - 65..<headerEnd - 1].allSatisfy { $0 == 0x20 })
        #expect(headerEnd % 64 == 0)
    }

    @Test("write → read round trip for every dtype, atomically")
    func roundTrip() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, dtype) in NPYDType.allCases.enumerated() {
            let shape = [3, 1, 2]
            let bytes = Data((0..<(6 * dtype.itemSize)).map { UInt8(truncatingIfNeeded: $0 * 13 + i) & (dtype == .b1 ? 1 : 0xFF) })
            let array = try NPYArray(dtype: dtype, shape: shape, data: bytes)
            let url = dir.appendingPathComponent("a\(i).npy")
            try array.write(to: url)
            #expect(try NPYArray(contentsOf: url) == array)
            #expect((try Data(contentsOf: url)).count % 64 == (bytes.count % 64))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).count == NPYDType.allCases.count)
        let floats = try NPYArray(floats: [1, 2.5, -3], shape: [3], dtype: .f2)
        #expect(try floats.floats() == [1, 2.5, -3])
        #expect(throws: FormatError.self) { try NPYArray(dtype: .f4, shape: [2], data: Data(count: 4)) }
        #expect(throws: FormatError.self) { try NPYArray(floats: [1], shape: [1], dtype: .i8) }
    }

    @Test("a header too long for format 1.0 is written as 2.0, like numpy")
    func version2WhenNeeded() throws {
        let shape = [1] + Array(repeating: 1, count: 22_000) + [0]
        let array = try NPYArray(dtype: .u1, shape: shape, data: Data())
        let data = array.serialize()
        #expect(data[6] == 2 && data[7] == 0)
        #expect(try NPYArray(data: data).shape == shape)
        let small = try NPYArray(dtype: .u1, shape: [2], data: Data([1, 2]))
        #expect(small.serialize()[6] == 1)
        #expect(small.serialize(minimumVersion: .v3)[6] == 3)
    }

    @Test("header parsing tolerates key order, double quotes, Python 2 longs and 1-D Fortran order")
    func tolerantHeader() throws {
        func npy(_ header: String, data: [UInt8]) -> Data {
            let h = Array(header.utf8)
            return Data(NPYArray.magic + [1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h + data)
        }
        let a = try NPYArray(data: npy("{\"shape\": (2L,), 'fortran_order': True, 'descr': '<i4'}\n", data: [1, 0, 0, 0, 2, 0, 0, 0]))
        #expect(a.dtype == .i4 && a.shape == [2])
        let b = try NPYArray(data: npy("{'descr':'<u1','fortran_order':False,'shape':(1,3,1)}", data: [7, 8, 9]))
        #expect(b.shape == [1, 3, 1] && b.data == Data([7, 8, 9]))
    }
}
