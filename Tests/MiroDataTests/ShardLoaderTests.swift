import Foundation
import Logging
import Testing
import MiroData

/// The loader (method.md §2.5) on the fixture shards: 25 samples in 6 shards, of which 2 are filtered out and 4
/// are corrupt (missing member, malformed JSON, short `.npy`, truncated archive), so each epoch has 19 samples.
@Suite("WebDataset: ShardLoader", .serialized)
struct ShardLoaderTests {
    static let validPerEpoch = 19

    static func configuration(workers: Int = 2, batch: Int = 4, synthetic: Double = 0.5) -> ShardLoaderConfiguration {
        var c = ShardLoaderConfiguration()
        c.sample = ShardFixture.sampleConfig
        c.sample.syntheticProb = synthetic
        c.batchSize = batch
        c.numWorkers = workers
        c.samplerSeed = 3
        c.seed = 11
        return c
    }

    static func take(_ n: Int, _ config: ShardLoaderConfiguration, logger: Logger = silentLogger,
                     from cursor: WebDatasetCursor? = nil) throws -> [WebDatasetBatch] {
        let loader = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: config, logger: logger,
                                     resumingFrom: cursor)
        defer { loader.close() }
        return try (0..<n).map { _ in try loader.next() }
    }

    @Test("every epoch delivers each valid sample once; skips are counted by reason, filters apart from corruption")
    func epochsAndCounters() throws {
        var config = Self.configuration()
        config.shuffleBufferSize = 0  // delivered order = merged order: 60 samples = epochs 0, 1, 2 and 3 of epoch 3
        let batches = try Self.take(15, config)
        let refs = batches.flatMap(\.refs)
        let valid = try ShardFixture.expected()["shards"]!.array!.flatMap { shard in
            shard["samples"]!.array!.filter { $0["expect"]!.string! == "ok" }.map { $0["key"]!.string! }
        }
        #expect(valid.count == Self.validPerEpoch)
        for epoch in 0...1 {
            let keys = refs.filter { $0.epoch == epoch }.map(\.key)
            #expect(keys.sorted() == valid.sorted(), "epoch \(epoch)")
        }
        // Counters cover the merged samples; a reader's trailing skips are counted with its end-of-epoch marker.
        let last = batches.last!.cursor
        #expect(last.samplesDelivered == 60)
        #expect(last.epoch == 3 && last.samplesInEpoch == 3)
        let epochsDone = last.epoch
        #expect(last.skipped.count(.belowMinSize) >= 2 * epochsDone)
        #expect(last.skipped.filtered == last.skipped.count(.belowMinSize))
        #expect(last.skipped.corrupt >= 4 * epochsDone)
        for reason in [SkipReason.missingMember, .malformedJSON, .badNPY, .truncatedMember] {
            #expect(last.skipped.count(reason) >= epochsDone, "\(reason)")
        }
        #expect(last.skipped.corrupt <= 4 * (epochsDone + 1) && last.skipped.filtered <= 2 * (epochsDone + 1))
    }

    @Test("collation: latents, text padded or truncated to maxTextTokens with a mask, rewards per row")
    func collation() throws {
        var config = Self.configuration(synthetic: 0)
        config.shuffleBufferSize = 0
        let batches = try Self.take(5, config)
        let readers = try ShardFixture.shards().enumerated().map { i, s in
            try EnrichedShardReader(url: s.file, config: config.sample, bins: nil, seed: config.seed, shardNumber: i)
        }
        var sawTruncated = false, sawPadded = false
        for batch in batches {
            #expect(batch.batchSize == 4 && batch.textDim == 64 && batch.maxTextTokens == 16)
            #expect(batch.vaeMean.count == 4 * 4096 && batch.text.count == 4 * 16 * 64 && batch.textMask.count == 4 * 16)
            #expect(batch.rewards.count == 4 * 7)
            for (b, ref) in batch.refs.enumerated() {
                let sample = try readers[ref.shard].sample(ref.index, epoch: ref.epoch).get()
                #expect(Array(batch.vaeMean[(b * 4096)..<((b + 1) * 4096)]) == sample.vaeMean)
                #expect(Array(batch.vaeStd[(b * 4096)..<((b + 1) * 4096)]) == sample.vaeStd)
                let n = min(sample.textTokens, 16)
                let row = Array(batch.text[(b * 16 * 64)..<((b + 1) * 16 * 64)])
                #expect(Array(row[0..<(n * 64)]) == Array(sample.text[0..<(n * 64)]))
                #expect(row[(n * 64)...].allSatisfy { $0 == 0 })
                #expect(Array(batch.textMask[(b * 16)..<((b + 1) * 16)]) == (0..<16).map { $0 < n })
                #expect(batch.textLengths[b] == n)
                sawTruncated = sawTruncated || sample.textTokens > 16
                sawPadded = sawPadded || sample.textTokens < 16
                let rewards = Array(batch.rewards[(b * 7)..<((b + 1) * 7)])
                #expect(zip(rewards, sample.rewards).allSatisfy { $0.bitPattern == $1.bitPattern })
            }
        }
        #expect(sawTruncated && sawPadded)
    }

    @Test("the stream does not depend on thread timing (queue depths, prefetch) — only on the configuration")
    func deterministic() throws {
        var a = Self.configuration(workers: 3)
        a.readerQueueCapacity = 1
        a.prefetchBatches = 1
        var b = Self.configuration(workers: 3)
        b.readerQueueCapacity = 64
        b.prefetchBatches = 5
        let first = try Self.take(12, a)
        #expect(first == (try Self.take(12, b)))
        #expect(first == (try Self.take(12, a)))
        // Another seed gives another stream.
        var c = a
        c.seed = 12
        #expect(first.map(\.keys) != (try Self.take(12, c)).map(\.keys))
    }

    @Test("recycled batch memory gives the same batches (padding re-zeroed, every element rewritten)")
    func recycling() throws {
        func digest(_ b: WebDatasetBatch) -> String {
            var h = FNV1a.hash(b.keys.joined(separator: ","))
            for x in b.vaeMean + b.vaeStd + b.text + b.rewards { h = (h ^ UInt64(x.bitPattern)) &* 0x100_0000_01B3 }
            for m in b.textMask { h = (h ^ (m ? 1 : 2)) &* 0x100_0000_01B3 }
            return String(h, radix: 16)
        }
        var config = Self.configuration(workers: 2)
        config.prefetchBatches = 1
        let plain = try Self.take(10, config).map(digest)
        let loader = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: config, logger: silentLogger)
        defer { loader.close() }
        var recycled: [String] = []
        for _ in 0..<10 {
            let batch = try loader.next()
            recycled.append(digest(batch))
            loader.recycle(consume batch)
        }
        #expect(recycled == plain)
    }

    @Test("resume: batches k..n of a loader built from the cursor after batch k-1 equal the uninterrupted ones",
          arguments: [(2, 3), (3, 9), (1, 0)])
    func exactResume(workers: Int, k: Int) throws {
        let config = Self.configuration(workers: workers)
        let full = try Self.take(14, config)
        let cursor: WebDatasetCursor
        if k == 0 {
            let loader = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: config, logger: silentLogger)
            cursor = loader.cursor
            loader.close()
        } else {
            cursor = full[k - 1].cursor
        }
        let stored = try WebDatasetCursor.decode(jsonString: try cursor.jsonString())  // as a checkpoint keeps it
        #expect(stored == cursor)
        let resumed = try Self.take(14 - k, config, from: stored)
        #expect(resumed == Array(full[k...]))
    }

    @Test("a cursor only resumes the configuration that wrote it")
    func cursorMismatch() throws {
        let cursor = try Self.take(2, Self.configuration())[1].cursor
        var other = Self.configuration()
        other.batchSize = 5
        #expect {
            _ = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: other, logger: silentLogger,
                                resumingFrom: cursor)
        } throws: { error in
            guard case WebDatasetError.cursorMismatch(let field, _, _) = error else { return false }
            return field == "batchSize"
        }
        other = Self.configuration()
        other.sample.minImageSize = 128
        #expect(throws: WebDatasetError.self) {
            _ = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: other, logger: silentLogger,
                                resumingFrom: cursor)
        }
    }

    @Test("corrupt samples are logged with shard and key; filtered ones only at trace level")
    func logging() throws {
        let log = CapturedLog()
        _ = try Self.take(6, Self.configuration(), logger: log.logger)
        let warnings = log.entries.filter { $0.level == .warning && $0.message.hasPrefix("skipping corrupt sample") }
        let malformed = warnings.first { $0.metadata["reason"]?.description == "malformed_json" }
        #expect(malformed?.metadata["key"]?.description == "000000041")
        #expect(malformed?.metadata["shard"]?.description.hasSuffix("shard-000004.tar") == true)
        #expect(warnings.contains { $0.metadata["reason"]?.description == "truncated_member"
                    && $0.metadata["key"]?.description == "000000053" })
        #expect(log.entries.contains { $0.level == .trace && $0.metadata["reason"]?.description == "below_min_size" })
        #expect(!warnings.contains { $0.metadata["reason"]?.description == "below_min_size" })
    }

    @Test("configuration errors: wrong text width up front; an epoch without any usable sample at next()")
    func runErrors() throws {
        var wrongDim = Self.configuration()
        wrongDim.sample.textDim = 2048
        #expect {
            _ = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: wrongDim, logger: silentLogger)
        } throws: { error in
            guard case WebDatasetError.textDimMismatch(_, _, let found, let expected) = error else { return false }
            return found == 64 && expected == 2048
        }
        var inferred = Self.configuration()
        inferred.sample.textDim = nil
        let loader = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: inferred, logger: silentLogger)
        #expect(loader.textDim == 64)
        loader.close()
        #expect(throws: WebDatasetError.loaderClosed) { _ = try loader.next() }

        var empty = Self.configuration()
        empty.sample.latentShape = [4, 64, 64]  // every sample has the wrong latent shape
        let starved = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: empty, logger: silentLogger)
        defer { starved.close() }
        #expect(throws: WebDatasetError.noValidSamples(epoch: 0, rank: 0)) { _ = try starved.next() }
    }

    @Test("ranks split the shards contiguously and never share a sample")
    func ranks() throws {
        var seen: [Set<String>] = []
        for rank in 0..<2 {
            var c = Self.configuration(workers: 1)
            c.rank = rank
            c.worldSize = 2
            c.shuffleBufferSize = 0
            let batches = try Self.take(2, c)
            #expect(batches.flatMap(\.refs).allSatisfy { rank == 0 ? $0.shard < 3 : $0.shard >= 3 })
            seen.append(Set(batches.flatMap(\.keys)))
        }
        #expect(seen[0].isDisjoint(with: seen[1]))
    }
}
