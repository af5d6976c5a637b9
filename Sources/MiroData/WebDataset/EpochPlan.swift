// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.5): `ShardExclusiveSampler.__iter__`,
// which assigns each DataLoader worker an exclusive group of shards per epoch.
import Foundation

/// One shard a worker reads in an epoch, and the order of its samples.
public struct ShardVisit: Sendable, Equatable {
    /// Index of the shard in the loader's shard list.
    public var shard: Int
    /// Samples the index announces for the shard (`nsamples`); the order is a permutation of `0..<plannedCount`.
    public var plannedCount: Int
    /// The sampler's generator just before this shard's within-shard shuffle (nil without shuffling).
    var generator: PythonRandom?

    /// The sample order: `rng.shuffle(list(range(lo, hi)))` of the official sampler, as indices into the shard.
    public func order() -> [Int] {
        var indices = Array(0..<plannedCount)
        if var g = generator { g.shuffle(&indices) }
        return indices
    }
}

/// The shard assignment of one epoch on one rank: `workers[w]` is the list of shard visits of reader w.
///
/// Exactly the official `ShardExclusiveSampler` (`shard_exclusive_workers: true`), with Python's
/// `random.Random(seed + epoch)` reproduced bit for bit (`PythonRandom`):
/// 1. ranks get contiguous shard ranges (`len(shards) // world_size` each, the last rank the remainder);
/// 2. the rank's shard list is shuffled (always, even with `shuffle: false`);
/// 3. worker w gets the contiguous slice `[w·k, (w+1)·k)` of it, k = `num_shards // num_workers`, the last
///    worker the remainder (so with fewer shards than workers only the last worker has any — as officially);
/// 4. with `shuffle`, each worker's list is shuffled, then each shard's sample indices, in that order, all from
///    the one generator.
///
/// What the official sampler does next — cut each worker's index list into batch-size blocks, interleave the
/// workers block by block, and pad short workers by wrap-around so every rank yields the same number of batches —
/// is replaced by the loader's deterministic merge (`ShardLoader`), which needs no padding because the stream
/// runs on across epochs.
public struct EpochPlan: Sendable, Equatable {
    public var epoch: Int
    public var workers: [[ShardVisit]]

    /// Plans `epoch` for `rank` of `worldSize` over shards with the given sample counts.
    public init(epoch: Int, shardSizes: [Int], rank: Int, worldSize: Int, numWorkers: Int, seed: Int, shuffle: Bool) {
        self.epoch = epoch
        let range = Self.rankRange(shardCount: shardSizes.count, rank: rank, worldSize: worldSize)
        var rng = PythonRandom(seed: seed + epoch)
        var rankShards = Array(range)
        rng.shuffle(&rankShards)
        let nw = max(1, numWorkers)
        let perWorker = rankShards.count / nw
        var groups: [[Int]] = []
        for w in 0..<nw {
            let start = w * perWorker
            let end = w < nw - 1 ? (w + 1) * perWorker : rankShards.count
            groups.append(Array(rankShards[start..<end]))
        }
        workers = groups.map { group in
            var list = group
            if shuffle { rng.shuffle(&list) }
            return list.map { shard in
                let n = shardSizes[shard]
                guard shuffle else { return ShardVisit(shard: shard, plannedCount: n, generator: nil) }
                let snapshot = rng
                // Advance past this shard's shuffle: the draws alone decide the generator state.
                if n > 1 { for i in stride(from: n - 1, through: 1, by: -1) { _ = rng.randbelow(i + 1) } }
                return ShardVisit(shard: shard, plannedCount: n, generator: snapshot)
            }
        }
    }

    /// The contiguous shard range of `rank` (`shards_per_rank = n // world_size`, the last rank the remainder).
    public static func rankRange(shardCount: Int, rank: Int, worldSize: Int) -> Range<Int> {
        let perRank = shardCount / worldSize
        let start = rank * perRank
        let end = rank < worldSize - 1 ? (rank + 1) * perRank : shardCount
        return start..<end
    }
}

/// Plans computed on demand by whichever thread needs them first, kept for the few epochs in flight (reader
/// threads may run ahead of the merge by as many epochs as their queues hold). Plans are pure functions of the
/// epoch, so an evicted one is simply recomputed.
final class EpochPlanner: @unchecked Sendable {
    private let lock = NSLock()
    private var cache: [Int: EpochPlan] = [:]
    let shardSizes: [Int]
    let rank: Int
    let worldSize: Int
    let numWorkers: Int
    let seed: Int
    let shuffle: Bool

    init(shardSizes: [Int], rank: Int, worldSize: Int, numWorkers: Int, seed: Int, shuffle: Bool) {
        self.shardSizes = shardSizes
        self.rank = rank
        self.worldSize = worldSize
        self.numWorkers = numWorkers
        self.seed = seed
        self.shuffle = shuffle
    }

    func plan(_ epoch: Int) -> EpochPlan {
        lock.lock()
        if let p = cache[epoch] { lock.unlock(); return p }
        lock.unlock()
        let p = EpochPlan(epoch: epoch, shardSizes: shardSizes, rank: rank, worldSize: worldSize,
                          numWorkers: numWorkers, seed: seed, shuffle: shuffle)
        lock.lock()
        defer { lock.unlock() }
        cache[epoch] = p
        while cache.count > 8, let oldest = cache.keys.min() { cache[oldest] = nil }
        return p
    }
}
