import Foundation
import Testing
import MiroData
import MiroRewards

/// `BinsCacheBuilder` against `scripts/build_coherence_bins_cache.py` as re-run by `scripts/make_shard_fixtures.py`
/// on the fixture shards (real CPython `random`, real `tarfile`, edges from the float32 `_compute_bins`
/// re-implementation): the same records selected, the same pooled values in the same order, the same file name and
/// the same bytes.
@Suite("WebDataset: bins cache builder")
struct BinsCacheBuilderTests {
    @Test("selection, pooled values, edges, file name and cache bytes equal the official script's",
          arguments: [0, 1, 2])
    func matchesOfficial(caseIndex: Int) throws {
        let c = try ShardFixture.expected()["bins"]!.array![caseIndex]
        var builder = BinsCacheBuilder()
        builder.rewardNames = c["scores"]!.array!.map { $0.string! }
        builder.syntheticProb = c["synthetic_prob"]!.number!
        builder.maxSamples = c["max_samples"]!.integer!
        builder.numBins = c["num_bins"]!.integer!
        builder.seed = c["seed"]!.integer!
        if caseIndex == 2 { builder.samplesPerTar = c["samples_per_tar"]!.integer! }  // else: the default quota
        let root = try ShardFixture.writableCopy()
        defer { try? FileManager.default.removeItem(at: root) }

        let pooled = try builder.gather(root: root)
        for name in builder.rewardNames {
            let want = c["pooled"]![name]!.array!.map { $0.number ?? .nan }
            let got = try #require(pooled[name])
            #expect(got.count == want.count, "\(name)")
            #expect(zip(got, want).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "\(name)")
        }

        let (bins, file) = try builder.build(root: root)
        #expect(file.lastPathComponent == c["file"]!.string!)
        #expect(String(decoding: try Data(contentsOf: file), as: UTF8.self) == c["cache"]!.string!)
        for (name, edges) in c["edges"]!.object! {
            #expect(bins.edges[name] == edges.array!.map { $0.number! }, "\(name)")
        }
        // The cache reads back through the loader's reader.
        #expect(try RewardBins.readCache(file, expectedRewards: Array(bins.edges.keys)) == bins)
    }

    @Test("a truncated tar contributes nothing (Python's tarfile refuses to list it)")
    func truncatedTarContributesNothing() throws {
        var builder = BinsCacheBuilder()
        builder.syntheticProb = 0
        let (values, warning) = builder.sampleScores(tar: try ShardFixture.url("shard-000005.tar"), samplesPerTar: nil, seed: 0)
        #expect(values.values.allSatisfy { $0.isEmpty })
        #expect(warning?.contains("shard-000005.tar") == true)
        let (intact, none) = builder.sampleScores(tar: try ShardFixture.url("shard-000004.tar"), samplesPerTar: nil, seed: 0)
        #expect(none == nil)
        #expect(intact["clip_score"]!.count == 3)  // 4 records, one malformed
    }
}
