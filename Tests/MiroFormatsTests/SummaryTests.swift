import Foundation
import Testing
import MiroFormats

@Suite("tensor file summary")
struct SummaryTests {
    @Test("safetensors sums equal Python's sequential float64 sums exactly")
    func safetensorsSums() throws {
        let expected = try #require(try Fixtures.expected().safetensors["mixed.safetensors"])
        let (tensors, metadata) = try TensorFileSummary.summarize(url: Fixtures.url("mixed.safetensors"))
        #expect(metadata == ["format": "np"])
        #expect(tensors.map(\.name) == expected.order)
        for summary in tensors {
            let reference = try #require(expected.tensors[summary.name])
            #expect(summary.dtype == reference.dtype && summary.shape == reference.shape)
            #expect(sameDouble(summary.sum, try pythonFloat(try #require(reference.sum))), "\(summary.name) sum")
            #expect(sameDouble(summary.absSum, try pythonFloat(try #require(reference.absSum))), "\(summary.name) abs_sum")
        }
        let mask = try #require(tensors.first { $0.name == "mask" })
        #expect(mask.sum == 3 && mask.absSum == 3)
    }

    @Test("npy sums and the file-stem name", arguments: NPYTests.files)
    func npySums(name: String) throws {
        let expected = try #require(try Fixtures.expected().npy[name])
        let (tensors, metadata) = try TensorFileSummary.summarize(url: Fixtures.url(name))
        #expect(metadata.isEmpty)
        let only = try #require(tensors.first)
        #expect(tensors.count == 1)
        #expect(only.name == String(name.dropLast(4)))
        #expect(only.dtype == expected.descr)
        #expect(sameDouble(only.sum, try pythonFloat(expected.sum)))
        #expect(sameDouble(only.absSum, try pythonFloat(expected.absSum)))
    }

    @Test("sharded index: tensors from all shards, sorted; FP8 sums decoded")
    func shardedAndFP8() throws {
        let (tensors, metadata) = try TensorFileSummary.summarize(url: Fixtures.url("sharded/model.safetensors.index.json"))
        #expect(tensors.map(\.name) == ["blocks.0.attn.bias", "blocks.0.attn.weight", "blocks.1.norm.weight", "embed.weight", "head.weight"])
        #expect(metadata == ["total_size": "156"])
        #expect(tensors.first { $0.name == "embed.weight" }?.sum == 28)
        #expect(tensors.first { $0.name == "head.weight" }?.absSum == 36)
        #expect(tensors.first { $0.name == "blocks.1.norm.weight" }?.sum == 10)

        let raw = try #require(try Fixtures.expected().safetensors["raw_dtypes.safetensors"])
        let file = try SafeTensorsFile(contentsOf: Fixtures.url("raw_dtypes.safetensors"))
        for name in ["bf16", "e4m3", "e5m2", "e8m0", "a.f32"] {
            let summary = try TensorFileSummary.summary(of: name, in: file)
            #expect(sameDouble(summary.sum, try pythonFloat(try #require(raw.tensors[name]?.sum))), "\(name)")
        }
        expectFormatError(path: file.path, contains: ["tensor 'complex' has dtype C64"]) {
            _ = try TensorFileSummary.summarize(url: Fixtures.url("raw_dtypes.safetensors"))
        }
        expectFormatError(path: "/tmp/x.bin", contains: ["unknown file type"]) {
            _ = try TensorFileSummary.summarize(url: URL(fileURLWithPath: "/tmp/x.bin"))
        }
    }

    static let sample: [TensorSummary] = [
        TensorSummary(name: "w", dtype: "F32", shape: [2, 3], sum: 1.5, absSum: 4.25),
        TensorSummary(name: "long.name.bias", dtype: "BF16", shape: [], sum: -0.1, absSum: .nan),
    ]

    @Test("JSON has the documented shape and key order")
    func json() throws {
        let text = TensorFileSummary.jsonString(tensors: Self.sample, metadata: ["b": "2", "a": "x\"y"])
        #expect(text == #"{"tensors":[{"name":"w","dtype":"F32","shape":[2,3],"sum":1.5,"abs_sum":4.25},"#
            + #"{"name":"long.name.bias","dtype":"BF16","shape":[],"sum":-0.1,"abs_sum":null}],"metadata":{"a":"x\"y","b":"2"}}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect((parsed?["tensors"] as? [Any])?.count == 2)
        let decoded = try JSONDecoder().decode(TensorSummary.self, from: Data(#"{"name":"a","dtype":"<f4","shape":[1],"sum":2,"abs_sum":3}"#.utf8))
        #expect(decoded == TensorSummary(name: "a", dtype: "<f4", shape: [1], sum: 2, absSum: 3))
    }

    @Test("table rendering aligns columns and lists metadata")
    func table() {
        let text = TensorFileSummary.render(tensors: Self.sample, metadata: ["config": String(repeating: "x", count: 150), "step": "7"])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "name            dtype  shape    sum  abs_sum")
        #expect(lines[1] == "--------------  -----  ------  ----  -------")
        #expect(lines[2] == "w               F32    [2, 3]   1.5     4.25")
        #expect(lines[3] == "long.name.bias  BF16   []      -0.1      nan")
        #expect(lines[4] == "2 tensors, 7 elements")
        #expect(lines[5] == "metadata:")
        #expect(lines[6] == "  config: " + String(repeating: "x", count: 100) + "… (150 chars)")
        #expect(lines[7] == "  step: 7")
    }
}
