import Foundation
import Testing
import MiroFormats

@Suite("sharded safetensors")
struct ShardedTests {
    @Test("the transformers-style fixture opens and every tensor reads bit-exactly")
    func readsFixture() throws {
        let expected = try Fixtures.expected().sharded
        let index = try SafeTensorsIndex(contentsOf: Fixtures.url(expected.index))
        #expect(index.names == expected.order.sorted())
        #expect(index.metadata == ["total_size": "156"])
        #expect(index.shards.count == 4)
        #expect(index.file(for: "head.weight")?.path.hasSuffix("model-00004-of-00004.safetensors") == true)
        #expect(index.file(for: "nope") == nil)
        for (name, tensor) in expected.tensors {
            #expect(index.entry(name)?.dtype.rawValue == tensor.dtype)
            #expect(index.entry(name)?.shape == tensor.shape)
            #expect(try index.bytes(name) == Data(hex: tensor.hex), "\(name)")
        }
        #expect(index.file(for: "embed.weight")?.metadata == ["format": "pt"])
        expectFormatError(path: index.url.path, contains: ["no tensor named 'nope'"]) { _ = try index.bytes("nope") }
    }

    @Test("writeSharded reproduces the Python/transformers files byte for byte")
    func writesIdenticalShards() throws {
        let expected = try Fixtures.expected().sharded
        let source = try SafeTensorsIndex(contentsOf: Fixtures.url(expected.index))
        let tensors = try expected.order.map { name -> SafeTensorsWriter.Tensor in
            let entry = try #require(source.entry(name))
            return .init(name: name, dtype: entry.dtype, shape: entry.shape, bytes: try source.bytes(name))
        }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let written = try SafeTensorsWriter.writeSharded(
            tensors, metadata: expected.shardMetadata, to: dir, maxShardBytes: expected.maxShardBytes)
        #expect(written.map(\.lastPathComponent) == [
            "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors", "model-00003-of-00004.safetensors",
            "model-00004-of-00004.safetensors", "model.safetensors.index.json",
        ])
        let fixtureDir = try Fixtures.url(expected.index).deletingLastPathComponent()
        for url in written {
            let reference = try Data(contentsOf: fixtureDir.appendingPathComponent(url.lastPathComponent))
            #expect(try Data(contentsOf: url) == reference, "\(url.lastPathComponent)")
        }
        #expect(try SafeTensorsIndex(contentsOf: written.last!).names.count == 5)
    }

    @Test("a checkpoint that fits one shard is written as plain model.safetensors")
    func singleShard() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tensor = SafeTensorsWriter.Tensor(name: "w", dtype: .f32, shape: [2], bytes: f32Bytes([1, 2]))
        let written = try SafeTensorsWriter.writeSharded([tensor], to: dir, baseName: "diffusion_pytorch_model", maxShardBytes: 1 << 20)
        #expect(written.map(\.lastPathComponent) == ["diffusion_pytorch_model.safetensors"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["diffusion_pytorch_model.safetensors"])
    }

    @Test("index JSON escapes like Python's json.dumps and sorts by code point")
    func indexJSON() {
        let text = SafeTensorsWriter.indexJSON(totalSize: 12, weightMap: ["é": "b.safetensors", "Z": "a.safetensors"])
        #expect(text == "{\n  \"metadata\": {\n    \"total_size\": 12\n  },\n  \"weight_map\": {\n"
            + "    \"Z\": \"a.safetensors\",\n    \"\\u00e9\": \"b.safetensors\"\n  }\n}\n")
    }

    /// Writes a two-shard set into a temporary directory and returns it with the index URL.
    private func makeSet() throws -> (URL, URL) {
        let dir = try temporaryDirectory()
        let tensors = (0..<3).map {
            SafeTensorsWriter.Tensor(name: "t\($0)", dtype: .f32, shape: [4], bytes: f32Bytes([Float($0), 1, 2, 3]))
        }
        let written = try SafeTensorsWriter.writeSharded(tensors, to: dir, maxShardBytes: 32)
        return (dir, try #require(written.last))
    }

    @Test("a missing shard file is reported with its name")
    func missingShard() throws {
        let (dir, index) = try makeSet()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        expectFormatError(path: index.path, contains: ["shard 'model-00002-of-00002.safetensors' listed in weight_map does not exist"]) {
            _ = try SafeTensorsIndex(contentsOf: index)
        }
    }

    @Test("a tensor stored in two shards is rejected")
    func tensorInTwoShards() throws {
        let (dir, index) = try makeSet()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Overwrite shard 2 with a file that also contains t0 (which the map places in shard 1).
        let dup = [SafeTensorsWriter.Tensor(name: "t0", dtype: .f32, shape: [1], bytes: f32Bytes([9])),
                   SafeTensorsWriter.Tensor(name: "t2", dtype: .f32, shape: [4], bytes: f32Bytes([2, 1, 2, 3]))]
        try SafeTensorsWriter.write(dup, to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        expectFormatError(path: index.path, contains: ["tensor 't0' is stored in two shards", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]) {
            _ = try SafeTensorsIndex(contentsOf: index)
        }
    }

    @Test("weight_map errors: wrong shard, duplicate key, missing weight_map, bad JSON")
    func indexErrors() throws {
        let (dir, index) = try makeSet()
        defer { try? FileManager.default.removeItem(at: dir) }
        func rewrite(_ text: String) throws { try Data(text.utf8).write(to: index) }

        try rewrite(#"{"weight_map": {"t0": "model-00002-of-00002.safetensors"}}"#)
        expectFormatError(path: index.path, contains: ["weight_map places 't0' in 'model-00002-of-00002.safetensors', but that shard has no such tensor"]) {
            _ = try SafeTensorsIndex(contentsOf: index)
        }
        try rewrite(#"{"weight_map": {"t0": "model-00001-of-00002.safetensors", "t0": "model-00002-of-00002.safetensors"}}"#)
        expectFormatError(path: index.path, contains: ["duplicate key \"t0\""]) { _ = try SafeTensorsIndex(contentsOf: index) }
        try rewrite(#"{"metadata": {}}"#)
        expectFormatError(path: index.path, contains: ["index has no 'weight_map'"]) { _ = try SafeTensorsIndex(contentsOf: index) }
        try rewrite(#"{"weight_map": {"t0": 3}}"#)
        expectFormatError(path: index.path, contains: ["weight_map entry for 't0' must be a relative file name, found 3"]) {
            _ = try SafeTensorsIndex(contentsOf: index)
        }
        try rewrite("{")
        expectFormatError(path: index.path, contains: ["index is not valid JSON"]) { _ = try SafeTensorsIndex(contentsOf: index) }
    }
}
