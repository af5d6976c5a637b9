import Foundation
import Testing

/// `miro bins ROOT` on roots it cannot use: one clear error naming the path, exit 1, nothing written.
@Suite(.serialized) struct BinsCommandTests {
    static var fixtureShards: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../MiroDataTests/Fixtures/shards").standardizedFileURL
    }

    static func garbage(_ n: Int, seed: UInt64) -> Data {
        var g = seed
        return Data((0..<n).map { _ in g = g &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: g >> 33) })
    }

    @Test func aFileIsNotARoot() throws {
        let dir = try CLI.scratch()
        let file = dir.appendingPathComponent("shard.tar")
        try FileManager.default.copyItem(at: Self.fixtureShards.appendingPathComponent("shard-000000.tar"), to: file)
        let r = try CLI.run(["bins", file.path])
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stderr.contains(file.path) && r.stderr.contains("not a directory"), "\(r.output)")
        #expect(!r.output.contains("error 256"), "\(r.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["shard.tar"])
    }

    @Test func aMissingRootIsNamed() throws {
        let dir = try CLI.scratch()
        let r = try CLI.run(["bins", dir.appendingPathComponent("nowhere").path])
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stderr.contains(dir.appendingPathComponent("nowhere").path) && r.stderr.contains("no such directory"), "\(r.output)")
    }

    @Test func unreadableShardsWriteNothing() throws {
        let dir = try CLI.scratch()
        try Self.garbage(4096, seed: 2).write(to: dir.appendingPathComponent("a.tar"))
        try Data().write(to: dir.appendingPathComponent("b.tar"))
        let r = try CLI.run(["bins", dir.path])
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stderr.contains(dir.appendingPathComponent("a.tar").path), "\(r.output)")
        #expect(r.stderr.contains("nothing written"), "\(r.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["a.tar", "b.tar"])
    }

    @Test func readableShardsStillWriteTheCache() throws {
        let dir = try CLI.scratch()
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.fixtureShards.path) where name.hasSuffix(".tar") {
            try FileManager.default.copyItem(at: Self.fixtureShards.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let r = try CLI.run(["bins", dir.path])
        #expect(r.status == 0, "\(r.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.hasPrefix("coherence_bins_64_bins_") })
    }
}
