import Foundation
import Testing

/// `miro convert FILE.pt`: torch.save checkpoints (fixtures of scripts/make_pickle_fixtures.py, shared with
/// MiroFormatsTests) become safetensors; a pickle with a foreign global writes nothing.
@Suite struct ConvertCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MiroFormatsTests/Fixtures/pickle")

    /// The JSON header of a safetensors file: name → (dtype, shape).
    static func header(_ url: URL) throws -> [String: (String, [Int])] {
        let data = try Data(contentsOf: url)
        try #require(data.count >= 8)
        let length = data.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        try #require(8 + length <= data.count)
        let json = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
        var out: [String: (String, [Int])] = [:]
        for (name, value) in json where name != "__metadata__" {
            let entry = try #require(value as? [String: Any])
            out[name] = (try #require(entry["dtype"] as? String), try #require(entry["shape"] as? [Int]))
        }
        return out
    }

    @Test func convertsANestedCheckpoint() throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("sub/nested.safetensors")
        let r = try CLI.run(["convert", Self.fixtures.appendingPathComponent("nested.pt").path, "--out", out.path, "--key", "state_dict"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("wrote 3 tensors (F16 ×1, F32 ×2"), "\(r.output)")
        let header = try Self.header(out)
        #expect(header.keys.sorted() == ["encoder.bias", "encoder.weight", "head.weight"])
        #expect(header["encoder.weight"]?.0 == "F32" && header["encoder.weight"]?.1 == [3, 2])
        #expect(header["head.weight"]?.0 == "F16" && header["head.weight"]?.1 == [1, 3])

        let again = try CLI.run(["convert", Self.fixtures.appendingPathComponent("nested.pt").path, "--out", out.path])
        #expect(again.status != 0 && again.stderr.contains("--overwrite"), "\(again.output)")
        let replaced = try CLI.run(["convert", Self.fixtures.appendingPathComponent("nested.pt").path, "--out", out.path, "--overwrite"])
        #expect(replaced.status == 0 && replaced.stdout.contains("note: skipped 'epoch' (int)"), "\(replaced.output)")
        #expect(try Self.header(out).keys.sorted() == ["state_dict.encoder.bias", "state_dict.encoder.weight", "state_dict.head.weight"])
    }

    @Test func convertsAModuleStateDictNextToIt() throws {
        let dir = try CLI.scratch()
        let input = dir.appendingPathComponent("mlp.pt")
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("mlp.pt"), to: input)
        let r = try CLI.run(["convert", input.path])
        #expect(r.status == 0, "\(r.output)")
        let header = try Self.header(dir.appendingPathComponent("mlp.safetensors"))
        #expect(header.count == 10)
        #expect(header["layers.0.weight"]?.1 == [6, 8] && header["layers.7.bias"]?.1 == [1])
    }

    @Test func refusesAMaliciousPickleAndWritesNothing() throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("evil.safetensors")
        let r = try CLI.run(["convert", Self.fixtures.appendingPathComponent("malicious.pt").path, "--out", out.path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("'os.system'") && r.stderr.contains("nothing was executed"), "\(r.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}
