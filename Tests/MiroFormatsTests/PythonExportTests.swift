import Foundation
import Testing
import MiroFormats

/// Writes a set of Swift-produced files plus `manifest.json` describing their exact contents, for
/// `scripts/make_format_fixtures.py --verify DIR` to check with Python safetensors / numpy.
///
/// With `MIRO_FORMATS_EXPORT_DIR` set the files go there and are kept; otherwise they go to a temporary directory
/// and are checked by reading them back here, so the test always asserts something.
@Suite("export for Python verification")
struct PythonExport {
    static func tensorsToExport() throws -> [SafeTensorsWriter.Tensor] {
        var tensors: [SafeTensorsWriter.Tensor] = [
            try .init(name: "net.proj.weight", shape: [2, 3], floats: [0.5, -1, 2, 3.25, -0.0, 1e-8]),
            try .init(name: "net.proj.bias", shape: [3], floats: [0.1, 0.2, 0.3], as: .f16),
            try .init(name: "net.norm.weight", shape: [2, 2], floats: [1, -2.5, 3.140625, 0.1], as: .bf16),
            .init(name: "step", dtype: .i64, shape: [], bytes: Data([42, 0, 0, 0, 0, 0, 0, 0])),
            .init(name: "mask", dtype: .bool, shape: [3], bytes: Data([1, 0, 1])),
            .init(name: "empty", dtype: .f32, shape: [0, 2], bytes: Data()),
        ]
        for dtype in [SafeTensorsDType.u8, .i8, .i16, .u16, .i32, .u32, .f64, .u64] {
            let size = try #require(dtype.elementByteSize)
            tensors.append(.init(name: "all.\(dtype.rawValue)", dtype: dtype, shape: [2],
                                 bytes: Data((0..<(2 * size)).map { UInt8($0 * 29 & 0xFF) })))
        }
        return tensors
    }

    static func describe(_ tensors: [SafeTensorsWriter.Tensor]) -> [String: Any] {
        Dictionary(uniqueKeysWithValues: tensors.map {
            ($0.name, ["dtype": $0.dtype.rawValue, "shape": $0.shape, "hex": $0.bytes.hex] as [String: Any])
        })
    }

    @Test("write safetensors, sharded and npy files with a manifest")
    func export() throws {
        let exportDir = ProcessInfo.processInfo.environment["MIRO_FORMATS_EXPORT_DIR"]
        let dir = try exportDir.map { path -> URL in
            let url = URL(fileURLWithPath: path, isDirectory: true)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            return url
        } ?? temporaryDirectory()
        defer { if exportDir == nil { try? FileManager.default.removeItem(at: dir) } }

        let tensors = try Self.tensorsToExport()
        var safetensors: [String: Any] = [:]
        let sets: [(String, [SafeTensorsWriter.Tensor], [String: String]?)] = [
            ("swift_mixed.safetensors", tensors, ["format": "pt"]),
            ("swift_no_metadata.safetensors", Array(tensors.prefix(2)), nil),
            ("swift_multi_metadata.safetensors", [tensors[0]], ["miro.step": "10", "format": "pt", "é": "ü\n"]),
            ("swift_empty.safetensors", [], nil),
        ]
        for (name, group, metadata) in sets {
            try SafeTensorsWriter.write(group, metadata: metadata, to: dir.appendingPathComponent(name))
            safetensors[name] = ["metadata": metadata as Any? ?? NSNull(), "tensors": Self.describe(group)]
        }

        let shardDir = dir.appendingPathComponent("swift_sharded", isDirectory: true)
        try? FileManager.default.removeItem(at: shardDir)
        try FileManager.default.createDirectory(at: shardDir, withIntermediateDirectories: true)
        let written = try SafeTensorsWriter.writeSharded(tensors, metadata: ["format": "pt"], to: shardDir, maxShardBytes: 40)
        #expect(written.count > 2)

        let arrays: [(String, NPYArray)] = [
            ("swift_f4.npy", try NPYArray(floats: (0..<24).map { Float($0) / 7 }, shape: [2, 3, 4])),
            ("swift_f2.npy", try NPYArray(floats: [0.1, -2, 65504], shape: [3], dtype: .f2)),
            ("swift_f8_scalar.npy", try NPYArray(floats: [1.0 / 3], shape: [], dtype: .f8)),
            ("swift_i8.npy", try NPYArray(dtype: .i8, shape: [2], data: Data([255, 255, 255, 255, 255, 255, 255, 255, 7, 0, 0, 0, 0, 0, 0, 0]))),
            ("swift_i4.npy", try NPYArray(dtype: .i4, shape: [1, 1], data: Data([1, 2, 3, 4]))),
            ("swift_b1.npy", try NPYArray(dtype: .b1, shape: [2, 1], data: Data([0, 1]))),
            ("swift_u1_empty.npy", try NPYArray(dtype: .u1, shape: [0], data: Data())),
        ]
        var npy: [String: Any] = [:]
        for (name, array) in arrays {
            try array.write(to: dir.appendingPathComponent(name))
            npy[name] = ["descr": array.dtype.rawValue, "shape": array.shape, "hex": array.data.hex] as [String: Any]
        }

        let manifest: [String: Any] = [
            "safetensors": safetensors,
            "npy": npy,
            "sharded": ["swift_sharded/model.safetensors.index.json": ["tensors": Self.describe(tensors)]],
        ]
        let json = try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys, .prettyPrinted])
        try json.write(to: dir.appendingPathComponent("manifest.json"))

        // Self-check: everything the manifest promises reads back here too.
        for (name, group, metadata) in sets {
            let file = try SafeTensorsFile(contentsOf: dir.appendingPathComponent(name))
            #expect(file.metadata == (metadata ?? [:]))
            for tensor in group { #expect(try file.bytes(tensor.name) == tensor.bytes, "\(name)/\(tensor.name)") }
        }
        let index = try SafeTensorsIndex(contentsOf: shardDir.appendingPathComponent("model.safetensors.index.json"))
        for tensor in tensors { #expect(try index.bytes(tensor.name) == tensor.bytes) }
        for (name, array) in arrays { #expect(try NPYArray(contentsOf: dir.appendingPathComponent(name)) == array) }
    }
}
