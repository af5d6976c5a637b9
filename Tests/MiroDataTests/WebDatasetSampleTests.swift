import Foundation
import Testing
import MiroData
import MiroFormats
import MiroRewards
import MiroShapes

/// Enriched-sample decoding (method.md §2.4–§2.5) against the values `scripts/make_shard_fixtures.py` wrote.
@Suite("WebDataset: enriched samples")
struct WebDatasetSampleTests {
    static let rewards = EnrichedSampleConfig.officialRewardNames

    /// (expected sample, decode result) for every fixture sample.
    func decodeAll(_ config: EnrichedSampleConfig, bins: RewardBins? = nil, epoch: Int = 0)
        throws -> [(expected: PythonJSON, result: Result<EnrichedSample, SampleSkip>)] {
        var out: [(PythonJSON, Result<EnrichedSample, SampleSkip>)] = []
        for (i, shard) in try ShardFixture.expected()["shards"]!.array!.enumerated() {
            let reader = try EnrichedShardReader(url: try ShardFixture.url(shard["file"]!.string!), config: config,
                                                 bins: bins, seed: 7, shardNumber: i)
            for (j, s) in shard["samples"]!.array!.enumerated() {
                #expect(reader.keys[j] == s["key"]!.string!)
                out.append((s, reader.sample(j, epoch: epoch)))
            }
        }
        return out
    }

    static func score(_ v: PythonJSON?) -> Float {
        guard let x = v?.number else { return .nan }
        return Float(x)
    }

    static func same(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
    }

    @Test("every sample decodes to the written arrays and scores, or is skipped for the written reason")
    func decodeVsFixture() throws {
        var okCount = 0
        for (s, result) in try decodeAll(ShardFixture.sampleConfig) {
            let expect = s["expect"]!.string!
            switch result {
            case .success(let sample):
                #expect(expect == "ok", "\(s["key"]!.string!) decoded but expected \(expect)")
                okCount += 1
                #expect(sample.vaeMean.count == 4 * 32 * 32 && sample.vaeStd.count == 4 * 32 * 32)
                #expect(sample.textDim == 64 && sample.textTokens == s["text_tokens"]!.integer!)
                #expect(sample.text.count == sample.textTokens * 64)
                #expect(Array(sample.vaeMean.prefix(4)) == s["first"]!["vae_mean"]!.array!.map { Float($0.number!) })
                #expect(Array(sample.text.prefix(4)) == s["first"]!["text"]!.array!.map { Float($0.number!) })
                let sums = s["sums"]!
                for (got, key) in [(sample.vaeMean, "vae_mean"), (sample.vaeStd, "vae_std"), (sample.text, "text")] {
                    let total = got.reduce(0.0) { $0 + Double($1) }  // float16 values: exact in Double
                    #expect(abs(total - sums[key]!.number!) <= 1e-9 * max(1, abs(total)), "\(key)")
                }
                // bins nil: raw scores pass through; a missing score is NaN, a NaN score stays NaN.
                #expect(Self.same(sample.rewards, Self.rewards.map { Self.score(s["scores"]![$0]) }))
                #expect(!sample.usedSyntheticCaption)
            case .failure(let skip):
                #expect(expect == (skip.reason.isFilter ? "filtered:" : "corrupt:") + skip.reason.rawValue,
                        "\(skip)")
                #expect(skip.key == s["key"]!.string! && skip.shard.hasSuffix(".tar"))
            }
        }
        #expect(okCount == 19)
    }

    @Test("rewards are RewardBins conditioning values")
    func binnedRewards() throws {
        let values = Dictionary(uniqueKeysWithValues: Self.rewards.map { r in (r, (0..<200).map { Double($0) / 200 }) })
        let bins = RewardBins.fit(values: values, numBins: 64)
        for (s, result) in try decodeAll(ShardFixture.sampleConfig, bins: bins) {
            guard case .success(let sample) = result else { continue }
            let want = Self.rewards.map { bins.conditioningValue(s["scores"]![$0]?.number, reward: $0) }
            #expect(Self.same(sample.rewards, want))
        }
    }

    @Test("synthetic swap replaces the embedding and the scores (synthetic_<name> keys); as shipped, only the embedding")
    func syntheticSwap() throws {
        var config = ShardFixture.sampleConfig
        config.syntheticProb = 1
        var swapped = 0
        for (s, result) in try decodeAll(config) {
            guard case .success(let sample) = result else { continue }
            guard let tokens = s["synthetic_text_tokens"]!.integer else {
                #expect(!sample.usedSyntheticCaption)  // no synthetic embedding: nothing to swap
                continue
            }
            swapped += 1
            #expect(sample.usedSyntheticCaption)
            #expect(sample.textTokens == tokens)
            let total = sample.text.reduce(0.0) { $0 + Double($1) }
            #expect(abs(total - s["sums"]!["synthetic_text"]!.number!) <= 1e-9 * max(1, abs(total)))
            let want = Self.rewards.map { r -> Float in
                let original = s["scores"]![r]!, synthetic = s["synthetic_scores"]![r]!
                return original == .null || synthetic == .null ? Self.score(original) : Self.score(synthetic)
            }
            #expect(Self.same(sample.rewards, want))
        }
        #expect(swapped == 18)

        config.syntheticScores = .officialAsShipped
        for (s, result) in try decodeAll(config) {
            guard case .success(let sample) = result, s["synthetic_text_tokens"]!.integer != nil else { continue }
            #expect(sample.usedSyntheticCaption)
            #expect(Self.same(sample.rewards, Self.rewards.map { Self.score(s["scores"]![$0]) }))
        }
    }

    @Test("the swap decision is a pure function of (seed, epoch, shard, key) with the right frequency")
    func swapDecision() throws {
        var config = ShardFixture.sampleConfig
        config.syntheticProb = 0.5
        let a = try decodeAll(config, epoch: 3).map { try? $0.result.get().usedSyntheticCaption }
        let b = try decodeAll(config, epoch: 3).map { try? $0.result.get().usedSyntheticCaption }
        #expect(a == b)
        let keys = (0..<4000).map { String(format: "%09d", $0) }
        let hits = keys.filter { SyntheticSwap.decide(probability: 0.5, seed: 1, epoch: 0, shard: 2, key: $0) }.count
        #expect((1800...2200).contains(hits))
        let otherEpoch = keys.filter { SyntheticSwap.decide(probability: 0.5, seed: 1, epoch: 1, shard: 2, key: $0) }
        #expect(Set(otherEpoch) != Set(keys.filter { SyntheticSwap.decide(probability: 0.5, seed: 1, epoch: 0, shard: 2, key: $0) }))
        #expect(!keys.contains { SyntheticSwap.decide(probability: 0, seed: 1, epoch: 0, shard: 0, key: $0) })
        #expect(keys.allSatisfy { SyntheticSwap.decide(probability: 1, seed: 1, epoch: 0, shard: 0, key: $0) })
    }

    @Test("size and score filters: counted as filters, with the official short-circuit rules")
    func filters() throws {
        var config = ShardFixture.sampleConfig
        config.minImageSize = 100
        let relaxed = try decodeAll(config)
        #expect(relaxed.filter { if case .failure(let s) = $0.result { return s.reason.isFilter }; return false }.isEmpty)

        config = ShardFixture.sampleConfig
        config.clipFilterThreshold = 0.2
        for (s, result) in try decodeAll(config) where s["expect"]!.string! == "ok" {
            let hasSize = s["width"] != .null && s["height"] != .null
            let clip = s["scores"]!["clip_score"]!.number ?? 0
            if hasSize && clip < 0.2 {
                guard case .failure(let skip) = result else { Issue.record("\(s["key"]!) should be filtered"); continue }
                #expect(skip.reason == .belowScoreThreshold)
            } else {
                #expect((try? result.get()) != nil, "\(s["key"]!)")  // no width/height: the official filter passes early
            }
        }
    }
}
