import Foundation
import Testing
import MiroData

/// Exact mid-epoch resume over every shuffle-buffer regime: no buffer, a buffer of about one batch, buffers smaller
/// than one epoch of the fixture (19 valid samples), between one and two epochs, and capped at two epochs (64 and
/// 256 both become 50). Small buffers matter because they leave cursors taken while some readers have finished
/// their epoch and others have not — the state whose resume used to replay an end-of-epoch marker the merge had
/// already consumed, so a resumed run skipped a reader's whole next epoch.
@Suite("WebDataset: exact resume over buffer sizes", .serialized)
struct ShardResumeTests {
    /// Batches of the uninterrupted run: 56 samples, about three epochs, so resume points fall in every phase of
    /// an epoch (including across the boundary) for every worker count.
    static let batches = 14

    static func configuration(buffer: Int, workers: Int) -> ShardLoaderConfiguration {
        var c = ShardLoaderTests.configuration(workers: workers)
        c.shuffleBufferSize = buffer
        return c
    }

    @Test("a loader resumed from the cursor after any batch delivers exactly the uninterrupted batches",
          arguments: [0, 1, 7, 16, 20, 24, 64, 256], [1, 2, 3])
    func resumeEverywhere(buffer: Int, workers: Int) throws {
        let config = Self.configuration(buffer: buffer, workers: workers)
        let full = try ShardLoaderTests.take(Self.batches, config)
        // The resumed loaders run with other queue depths: the stream must be a function of the cursor alone,
        // not of how far the reader threads happened to run ahead when it was taken.
        var resumedConfig = config
        resumedConfig.readerQueueCapacity = 1
        resumedConfig.prefetchBatches = 1
        for k in 1..<Self.batches {
            let stored = try WebDatasetCursor.decode(jsonString: try full[k - 1].cursor.jsonString())
            let resumed = try ShardLoaderTests.take(Self.batches - k, resumedConfig, from: stored)
            let expected = Array(full[k...])
            guard resumed != expected else { continue }
            // Report the first difference briefly (the batches themselves print as megabytes of floats).
            let at = resumed.indices.first { resumed[$0] != expected[$0] } ?? 0
            let (got, want) = (resumed[at], expected[at])
            let what = got.refs != want.refs ? "samples \(got.refs.map { "\($0.epoch):\($0.key)" }) instead of "
                + "\(want.refs.map { "\($0.epoch):\($0.key)" })" : got.cursor != want.cursor ? "cursor" : "contents"
            Issue.record("""
                buffer \(buffer), \(workers) workers, resumed after batch \(k - 1): batch \(k + at) differs in \(what) \
                (readers at \(stored.workers.map { $0.finished ? "done" : "\($0.visit).\($0.slot)" }))
                """)
        }
    }

    @Test("the resume matrix covers cursors taken while some readers have finished their epoch and others have not")
    func coversFinishedReaders() throws {
        let full = try ShardLoaderTests.take(Self.batches, Self.configuration(buffer: 16, workers: 3))
        let partlyFinished = full.map(\.cursor).filter { c in c.workers.contains(where: \.finished) && !c.workers.allSatisfy(\.finished) }
        #expect(!partlyFinished.isEmpty)
    }

    @Test("a resumed run resumed again (a chain of checkpoints) still follows the uninterrupted stream")
    func chainedResume() throws {
        let config = Self.configuration(buffer: 16, workers: 3)
        let full = try ShardLoaderTests.take(Self.batches, config)
        var delivered = Array(full[0..<1])
        while delivered.count < Self.batches {
            // Three batches per "session", each resumed from the last cursor of the one before.
            let more = try ShardLoaderTests.take(min(3, Self.batches - delivered.count), config, from: delivered.last!.cursor)
            delivered += more
        }
        let same = delivered == full  // not inside #expect, which would print every float of both streams
        #expect(same, "keys \(delivered.map(\.keys)) instead of \(full.map(\.keys))")
    }
}
