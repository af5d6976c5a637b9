import Foundation
import Testing
import MiroFormats

@Suite("safetensors writer")
struct SafeTensorsWriteTests {
    /// Rebuilds writer input from a file, in reversed order so the writer's own sorting is exercised.
    static func tensors(of file: SafeTensorsFile) throws -> [SafeTensorsWriter.Tensor] {
        try file.entries.reversed().map {
            SafeTensorsWriter.Tensor(name: $0.name, dtype: $0.dtype, shape: $0.shape, bytes: try file.bytes($0.name))
        }
    }

    @Test("reproduces the bytes of safetensors 0.7.0 exactly",
          arguments: ["mixed.safetensors", "no_metadata.safetensors", "empty.safetensors", "raw_dtypes.safetensors"])
    func byteIdentical(name: String) throws {
        let original = try Fixtures.data(name)
        let file = try SafeTensorsFile(data: original)
        let expected = try #require(try Fixtures.expected().safetensors[name])
        let rewritten = try SafeTensorsWriter.serialize(Self.tensors(of: file), metadata: expected.metadata)
        #expect(rewritten.count == original.count)
        #expect(rewritten == original, "header: \(String(decoding: rewritten.prefix(300), as: UTF8.self))")
    }

    @Test("several metadata keys are written sorted (the reference's order is random)")
    func multiMetadataDeterministic() throws {
        let file = try SafeTensorsFile(contentsOf: Fixtures.url("multi_metadata.safetensors"))
        let data = try SafeTensorsWriter.serialize(Self.tensors(of: file), metadata: file.metadata)
        let header = String(decoding: data.dropFirst(8).prefix(120), as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"format":"pt","miro.reward_keys":"aesthetic,clip","miro.step":"1200"},"w":"#))
        let reread = try SafeTensorsFile(data: data)
        #expect(reread.metadata == file.metadata)
        #expect(data.count == (try Fixtures.data("multi_metadata.safetensors")).count)
    }

    @Test("every dtype round-trips, data is aligned and the header is space padded to 8 bytes")
    func roundTripAllDTypes() throws {
        var tensors: [SafeTensorsWriter.Tensor] = []
        for (i, dtype) in SafeTensorsDType.allCases.enumerated() {
            let shape = [2, 4]  // 8 elements: a whole number of bytes even for F4 / F6
            let count = try dtype.byteCount(forShape: shape).get()
            let bytes = Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ i) })
            tensors.append(.init(name: "t\(i).\(dtype.rawValue.lowercased())", dtype: dtype, shape: shape, bytes: bytes))
        }
        tensors.append(.init(name: "scalar", dtype: .f64, shape: [], bytes: Data(repeating: 7, count: 8)))
        tensors.append(.init(name: "void", dtype: .bf16, shape: [3, 0], bytes: Data()))
        let data = try SafeTensorsWriter.serialize(tensors, metadata: ["k": "v"])
        let file = try SafeTensorsFile(data: data)
        #expect(file.headerLength % 8 == 0)
        #expect(data[8 + file.headerLength - 1] == 0x20 || data[8 + file.headerLength - 1] == UInt8(ascii: "}"))
        #expect(file.metadata == ["k": "v"])
        #expect(file.names.count == tensors.count)
        #expect(file.names.first == "t21.u64")
        for tensor in tensors {
            let entry = try #require(file.entry(tensor.name))
            #expect(entry.dtype == tensor.dtype && entry.shape == tensor.shape)
            #expect(try file.bytes(tensor.name) == tensor.bytes)
            if let size = tensor.dtype.elementByteSize {
                #expect((8 + file.headerLength + entry.dataOffsets.lowerBound) % size == 0, "\(tensor.name)")
            }
        }
    }

    @Test("float encoders write F32, F16 and BF16 with round-to-nearest-even")
    func floatEncoding() throws {
        let values: [Float] = [1, -2.5, 0.1, 65520, 1.00390625]
        let f32 = try SafeTensorsWriter.Tensor(name: "a", shape: [5], floats: values)
        let f16 = try SafeTensorsWriter.Tensor(name: "b", shape: [5], floats: values, as: .f16)
        let bf16 = try SafeTensorsWriter.Tensor(name: "c", shape: [5], floats: values, as: .bf16)
        let file = try SafeTensorsFile(data: SafeTensorsWriter.serialize([f32, f16, bf16]))
        #expect(try file.floats("a") == values)
        #expect(try file.floats("b") == [1, -2.5, 0.0999755859375, .infinity, 1.00390625])
        #expect(try file.floats("c") == [1, -2.5, 0.10009765625, 65536, 1.0])
        #expect(throws: FormatError.self) { try SafeTensorsWriter.Tensor(name: "d", shape: [1], floats: [1], as: .i32) }
    }

    @Test("write(to:) replaces the file atomically and leaves no temporary files")
    func atomicWrite() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        try Data("old contents".utf8).write(to: url)
        let tensor = SafeTensorsWriter.Tensor(name: "w", dtype: .f32, shape: [2], bytes: f32Bytes([3, 4]))
        try SafeTensorsWriter.write([tensor], metadata: ["format": "pt"], to: url)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.safetensors"])
        #expect(try Data(contentsOf: url) == SafeTensorsWriter.serialize([tensor], metadata: ["format": "pt"]))
        #expect(try SafeTensorsFile(contentsOf: url).floats("w") == [3, 4])

        let missing = dir.appendingPathComponent("no/such/dir/x.safetensors")
        expectFormatError(path: missing.path, contains: ["cannot create a temporary file"]) {
            try SafeTensorsWriter.write([tensor], to: missing)
        }
    }

    @Test("writer input is validated")
    func rejectsBadInput() {
        let ok = SafeTensorsWriter.Tensor(name: "a", dtype: .f32, shape: [1], bytes: f32Bytes([1]))
        expectFormatError(path: "<memory>", contains: ["tensor 'w'", "has 12 bytes but dtype F32 × shape [2, 2] = 16 bytes"]) {
            _ = try SafeTensorsWriter.serialize([.init(name: "w", dtype: .f32, shape: [2, 2], bytes: Data(count: 12))])
        }
        expectFormatError(path: "<memory>", contains: ["two tensors are named 'a'"]) {
            _ = try SafeTensorsWriter.serialize([ok, ok])
        }
        expectFormatError(path: "<memory>", contains: ["'__metadata__' is reserved"]) {
            _ = try SafeTensorsWriter.serialize([.init(name: "__metadata__", dtype: .u8, shape: [], bytes: Data([1]))])
        }
        expectFormatError(path: "<memory>", contains: ["F4", "12 bits", "not a whole number of bytes"]) {
            _ = try SafeTensorsWriter.serialize([.init(name: "q", dtype: .f4, shape: [3], bytes: Data(count: 2))])
        }
        expectFormatError(path: "<memory>", contains: ["negative dimension -2"]) {
            _ = try SafeTensorsWriter.serialize([.init(name: "n", dtype: .u8, shape: [-2], bytes: Data())])
        }
    }

    @Test("names and metadata are escaped like serde_json")
    func escaping() throws {
        let name = "quote\"slash/back\\tab\tnl\né\u{7F}\u{1F}"
        let tensor = SafeTensorsWriter.Tensor(name: name, dtype: .u8, shape: [1], bytes: Data([9]))
        let data = try SafeTensorsWriter.serialize([tensor], metadata: ["ü": "\u{0}"])
        let header = String(decoding: data.dropFirst(8), as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"ü":"\u0000"},"quote\"slash/back\\tab\tnl\né"# + "\u{7F}" + #"\u001f":"#))
        let file = try SafeTensorsFile(data: data)
        #expect(file.names == [name])
        #expect(file.metadata == ["ü": "\u{0}"])
    }
}
