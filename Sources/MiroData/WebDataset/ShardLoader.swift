// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.5): `TextWIDSDataset` +
// `ShardExclusiveSampler` + `ShuffledBatchLoader` + the DataLoader of miro/data/datamodule.py (`WIDSDataModule`
// with `shard_exclusive_workers: true`).
import Foundation
import Logging
import MiroFormats
import MiroRewards

/// Loader settings (method.md §2.5). Defaults follow the official data module where one exists.
public struct ShardLoaderConfiguration: Sendable, Codable, Equatable {
    /// What a sample contains and yields.
    public var sample = EnrichedSampleConfig()
    /// Samples per batch on this rank (official: global batch / number of GPUs, 64 on 16 GPUs).
    public var batchSize = 64
    /// Reader threads W (official `num_workers`: 16). Each owns an exclusive group of shards per epoch.
    public var numWorkers = 4
    /// This process's rank and the number of ranks; shards are split contiguously across ranks.
    public var rank = 0
    public var worldSize = 1
    /// `sampler_seed`: epoch e orders shards with Python's `random.Random(samplerSeed + e)`.
    public var samplerSeed = 0
    /// `ShardExclusiveSampler(shuffle=True)`: shuffle each worker's shard list and each shard's samples.
    public var shuffle = true
    /// Seeds the shuffle buffer's draws and the synthetic-caption swap.
    public var seed: UInt64 = 0
    /// Shuffle buffer size in samples; nil = 4 × `numWorkers` × `batchSize` (the official `num_workers × 4`
    /// batches); 0 disables the buffer (batches in merge order).
    public var shuffleBufferSize: Int? = nil
    /// Batches assembled ahead of `next()` (the official `prefetch_factor` is per worker; here one assembly
    /// thread fills one queue).
    public var prefetchBatches = 2
    /// Samples each reader may hold ready ahead of the merge; nil = `batchSize`.
    public var readerQueueCapacity: Int? = nil
    /// Shard indices kept in memory (official `lru_size: 20`).
    public var shardIndexCacheSize = 20

    public init() {}

    /// The buffer size in effect.
    public var effectiveBufferSize: Int {
        let s = shuffleBufferSize ?? 4 * max(1, numWorkers) * batchSize
        return s <= 0 ? 0 : max(s, batchSize)
    }

    /// The buffer size a loader uses over data whose epoch (on this rank) lists `rankSamples` samples: the
    /// effective size, capped at two epochs (never below one batch), so filling it reads at most about two
    /// epochs (more only where most samples are filtered out) and holds at most two epochs of samples.
    /// (Resume is exact for every buffer size — see ShardResumeTests — so one epoch would do; the cap stays at
    /// two so that existing runs keep their buffer size, their stream and their cursors.)
    public func bufferSize(rankSamples: Int) -> Int {
        let s = effectiveBufferSize
        let (twoEpochs, overflow) = rankSamples.multipliedReportingOverflow(by: 2)
        return s == 0 || overflow ? s : min(s, max(twoEpochs, batchSize))
    }

    public func validate() throws {
        try sample.validate()
        func fail(_ m: String) -> WebDatasetError { .invalidConfiguration(m) }
        guard batchSize > 0 else { throw fail("batchSize \(batchSize) must be positive") }
        guard numWorkers > 0 else { throw fail("numWorkers \(numWorkers) must be positive") }
        guard worldSize > 0, (0..<worldSize).contains(rank) else { throw fail("rank \(rank) must be in 0..<worldSize (\(worldSize))") }
        guard prefetchBatches > 0 else { throw fail("prefetchBatches \(prefetchBatches) must be positive") }
        if let c = readerQueueCapacity, c <= 0 { throw fail("readerQueueCapacity \(c) must be positive") }
        if let s = shuffleBufferSize, s < 0 { throw fail("shuffleBufferSize \(s) must not be negative") }
    }
}

/// The enriched-webdataset training loader: an endless, deterministic, resumable stream of batches.
///
/// Pipeline (method.md §2.5):
/// 1. **Readers** — `numWorkers` threads. Each epoch, `EpochPlan` (the official `ShardExclusiveSampler`, bit for
///    bit) gives reader w its own shards and their sample orders; the reader validates samples structurally
///    (`SampleDecoder`), skipping — and counting and logging, with shard and key — filtered and corrupt ones, and
///    queues the usable ones as raw float16 bytes.
/// 2. **Merge** — samples are taken from the readers in a fixed round-robin of batch-size blocks (reader 0's
///    next block, reader 1's, …; a reader whose epoch is over drops out until the next epoch), the order in which
///    the official sampler interleaves its workers' batches. The merged stream is therefore a pure function of
///    the configuration, whatever the threads' timing.
/// 3. **Shuffle buffer** — as `ShuffledBatchLoader`: keep the buffer full, draw `batchSize` distinct positions
///    (generator seeded by `seed` and the batch number), take them in descending position order, swap-removing.
/// 4. **Collate** — float16 → Float, text padded / truncated to `maxTextTokens` with a mask, on a background
///    thread into a queue of `prefetchBatches`.
///
/// **Epochs** never end the stream: when every reader is done, the next epoch starts (reshuffled with
/// `samplerSeed + epoch`) and the buffer keeps mixing across the boundary, so no sample is dropped and a batch
/// can hold samples of two epochs. (Officially each epoch drops its last partial batch and its workers are
/// padded by wrap-around to equalise ranks; with a step-based trainer neither is needed — every rank simply
/// delivers batches for as long as it is asked.)
///
/// **Resume**: every batch carries the `WebDatasetCursor` of the position right after it; a loader built with
/// `resumingFrom:` that cursor continues with exactly the batches the uninterrupted run would have produced.
///
/// Use from one thread (the training loop). `close()` (or releasing the loader) stops the threads.
///
///     let loader = try ShardLoader(roots: [root], bins: bins, configuration: config, logger: logger,
///                                  resumingFrom: savedCursor)          // nil for a fresh run
///     while training {
///         let batch = try loader.next()
///         // … tensors from batch.vaeMean / vaeStd / text / textMask / rewards …
///         checkpointCursorJSON = try batch.cursor.jsonString()        // goes with the step trained on `batch`
///         loader.recycle(batch)                                         // optional: reuse its memory
///     }
public final class ShardLoader: @unchecked Sendable {
    public let configuration: ShardLoaderConfiguration
    public let shards: [ResolvedShard]
    /// The text width D in effect (configured, or taken from the data).
    public let textDim: Int

    private let output: BlockingQueue<AssemblerOutput>
    private let workerQueues: [BlockingQueue<WorkerItem>]
    private let done = DispatchGroup()
    private let state = NSLock()
    private var current: WebDatasetCursor
    private var failure: WebDatasetError?
    private var closed = false
    private let cancelFlag = CancelFlag()
    private let pool: StoragePool

    /// Starts the loader over `shards` (see `WIDSIndex.shards(roots:)`). `bins` nil passes raw scores through.
    /// With `resumingFrom`, continues a stream from a cursor that this configuration wrote.
    public init(shards: [ResolvedShard], bins: RewardBins?, configuration: ShardLoaderConfiguration,
                logger: Logger, resumingFrom cursor: WebDatasetCursor? = nil) throws {
        try configuration.validate()
        guard !shards.isEmpty else { throw WebDatasetError.noShards("the loader was given no shards") }
        guard shards.count >= configuration.worldSize else {
            throw WebDatasetError.invalidConfiguration("\(shards.count) shards cannot be split over \(configuration.worldSize) ranks")
        }
        let config = configuration
        self.configuration = config
        self.shards = shards
        textDim = try Self.probeTextDim(shards: shards, sample: config.sample)
        let rankShards = EpochPlan.rankRange(shardCount: shards.count, rank: config.rank, worldSize: config.worldSize).count
        if rankShards < config.numWorkers {
            logger.warning("fewer shards than reader threads: as in the official sampler, only the last reader gets shards",
                           metadata: ["rank_shards": "\(rankShards)", "workers": "\(config.numWorkers)"])
        }

        // A buffer larger than the rank's data would cycle epochs just to fill (and hold that many samples): cap
        // it at two epochs of what this rank lists. A cursor written before the cap keeps its own size (exact resume).
        let rankSamples = EpochPlan.rankRange(shardCount: shards.count, rank: config.rank, worldSize: config.worldSize)
            .reduce(0) { $0 + shards[$1].nsamples }
        var bufferSize = config.bufferSize(rankSamples: rankSamples)
        if bufferSize < config.effectiveBufferSize {
            if let cursor, cursor.bufferSize == config.effectiveBufferSize {
                bufferSize = cursor.bufferSize
            } else {
                logger.warning("the shuffle buffer is larger than the data: capped at two epochs of this rank",
                               metadata: ["requested": "\(config.effectiveBufferSize)", "capped": "\(bufferSize)",
                                          "rank_samples": "\(rankSamples)"])
            }
        }
        let decoder = SampleDecoder(config: config.sample, bins: bins, seed: config.seed, textDim: textDim)
        let source = LoaderSource(shards: shards, decoder: decoder, indexCacheSize: config.shardIndexCacheSize, logger: logger)
        let planner = EpochPlanner(shardSizes: shards.map(\.nsamples), rank: config.rank, worldSize: config.worldSize,
                                   numWorkers: config.numWorkers, seed: config.samplerSeed, shuffle: config.shuffle)
        let fresh = WebDatasetCursor(
            samplerSeed: config.samplerSeed, seed: config.seed, numWorkers: config.numWorkers, batchSize: config.batchSize,
            bufferSize: bufferSize, rank: config.rank, worldSize: config.worldSize, shuffle: config.shuffle,
            fingerprint: Self.fingerprint(shards: shards, sample: config.sample), epoch: 0, samplesInEpoch: 0,
            workers: Array(repeating: WorkerPosition(), count: config.numWorkers), rotation: 0, takenInBlock: 0,
            buffer: [], batchesDelivered: 0, samplesDelivered: 0, skipped: SkipCounters())
        let start = cursor ?? fresh
        if let cursor { try cursor.checkSameStream(as: fresh) }
        // A resumed buffer is read back before any thread starts, so a vanished sample fails the constructor.
        let buffer = try start.buffer.map { try source.reload($0) }
        current = start

        output = BlockingQueue(capacity: config.prefetchBatches)
        pool = StoragePool(capacity: config.prefetchBatches + 1, batchSize: config.batchSize,
                           latent: config.sample.latentShape.reduce(1, *), tokens: config.sample.maxTextTokens, textDim: textDim)
        let capacity = config.readerQueueCapacity ?? config.batchSize
        workerQueues = (0..<config.numWorkers).map { _ in BlockingQueue(capacity: capacity) }

        let cancel = cancelFlag
        for w in 0..<config.numWorkers {
            let worker = ShardReaderWorker(worker: w, source: source, planner: planner, queue: workerQueues[w],
                                           isCancelled: { cancel.isSet })
            let position = start.workers[w]
            let epoch = start.epoch
            spawn("miro-webdataset-reader-\(w)") { worker.run(startEpoch: epoch, start: position) }
        }
        let assembler = BatchAssembler(config: config, textDim: textDim, cursor: start, buffer: buffer,
                                       queues: workerQueues, output: output, pool: pool)
        spawn("miro-webdataset-batches") { assembler.run() }
    }

    /// Reads (or builds) the `wids-index.json` of each root and starts the loader over their shards, in order.
    public convenience init(roots: [URL], bins: RewardBins?, configuration: ShardLoaderConfiguration, logger: Logger,
                            resumingFrom cursor: WebDatasetCursor? = nil) throws {
        try self.init(shards: try WIDSIndex.shards(roots: roots, logger: logger), bins: bins,
                      configuration: configuration, logger: logger, resumingFrom: cursor)
    }

    deinit { close() }

    /// The next batch (blocking until it is assembled). Errors that concern the whole run (no usable sample in
    /// an epoch, the loader closed) are thrown; corrupt samples never are.
    public func next() throws -> WebDatasetBatch {
        state.lock()
        if closed { state.unlock(); throw WebDatasetError.loaderClosed }
        if let failure { state.unlock(); throw failure }
        state.unlock()
        guard let item = output.pop() else { throw WebDatasetError.loaderClosed }
        state.lock()
        defer { state.unlock() }
        switch item {
        case .batch(let batch):
            current = batch.cursor
            return batch
        case .failure(let error):
            failure = error
            throw error
        }
    }

    /// Optionally hands a batch back once its arrays have been copied into tensors: the next batches reuse its memory
    /// instead of allocating (and page-faulting) ~B·T·D·4 bytes each. Safe even if a copy of an array is still in
    /// use (copy-on-write then gives the loader its own), but the saving needs the caller to keep none. Batches of
    /// another shape are ignored.
    public func recycle(_ batch: consuming WebDatasetBatch) {
        var b = batch
        func take<T>(_ a: inout [T]) -> [T] {
            let x = a
            a = []
            return x
        }
        pool.put(BatchStorage(vaeMean: take(&b.vaeMean), vaeStd: take(&b.vaeStd), text: take(&b.text),
                              textMask: take(&b.textMask)))
    }

    /// The position after the last batch `next()` returned (the resume cursor before the first one).
    public var cursor: WebDatasetCursor {
        state.lock()
        defer { state.unlock() }
        return current
    }

    /// Epoch the readers are in (for logs).
    public var epoch: Int { cursor.epoch }

    /// Skipped samples so far (filtered and corrupt, by reason).
    public var skipped: SkipCounters { cursor.skipped }

    /// Stops the threads and waits for them to exit. Idempotent.
    public func close() {
        state.lock()
        let wasClosed = closed
        closed = true
        state.unlock()
        if wasClosed { return }
        cancelFlag.set()
        output.cancel()
        for q in workerQueues { q.cancel() }
        done.wait()
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        done.enter()
        let group = done
        let thread = Thread {
            body()
            group.leave()
        }
        thread.name = name
        thread.start()
    }

    /// The text width D a loader over `shards` will use, without starting one: the first readable text embedding
    /// (the first samples of up to `maxShards` shards that list any, in order) gives D; a configured `textDim`
    /// must agree with it (`textDimMismatch`). Only headers are read. When none is found and `textDim` is nil, the
    /// error names every shard tried and why it gave no width.
    public static func probeTextDim(shards: [ResolvedShard], sample config: EnrichedSampleConfig,
                                    maxShards: Int = 8, samplesPerShard: Int = 16) throws -> Int {
        var tried: [String] = []
        var emptyShards = 0
        for shard in shards {
            guard tried.count < maxShards else { break }
            let path = shard.file.path
            guard shard.nsamples > 0 else { emptyShards += 1; continue }
            let archive: TarArchive
            do { archive = try TarArchive(url: shard.file) } catch {
                tried.append("\(path): \(error)")
                continue
            }
            let index = ShardIndex(archive: archive)
            if index.samples.isEmpty {
                tried.append("\(path): " + (index.damage.map { "\($0)" } ?? "no samples"))
                continue
            }
            var why: [String] = []
            var seenSuffixes = Set<String>()
            for sample in index.samples.prefix(samplesPerShard) {
                seenSuffixes.formUnion(sample.members.keys)
                guard let m = sample.members[config.textSuffix] else { continue }
                let key = printableName(sample.key)
                guard m.isComplete else { why.append("sample '\(key)': member cut short"); continue }
                let header: NPYMemberHeader
                do {
                    let probe = try archive.read(m, range: 0..<min(m.size, Int64(NPYMemberHeader.probeLength)))
                    do { header = try NPYMemberHeader.parse(probe, memberSize: Int(m.size)) } catch let more as NPYNeedMore {
                        header = try NPYMemberHeader.parse(try archive.read(m, range: 0..<Int64(more.total)), memberSize: Int(m.size))
                    }
                } catch let problem as NPYFormatProblem {
                    why.append("sample '\(key)': \(problem.message)")
                    continue
                } catch {
                    why.append("sample '\(key)': \(error)")
                    continue
                }
                guard header.shape.count == 2 else {
                    why.append("sample '\(key)': shape \(header.shape) is not (tokens, D)")
                    continue
                }
                if let d = config.textDim, d != header.shape[1] {
                    throw WebDatasetError.textDimMismatch(shard: path, key: sample.key, found: header.shape[1], expected: d)
                }
                return header.shape[1]
            }
            let looked = min(samplesPerShard, index.samples.count)
            if why.isEmpty {
                let seen = seenSuffixes.sorted(by: pythonStringLess).map { printableName($0) }.joined(separator: ", ")
                tried.append("\(path): none of its first \(looked) samples has a '\(config.textSuffix)' member (members seen: \(seen))")
            } else {
                tried.append("\(path): " + WIDSIndex.summarize(why, first: 2))
            }
        }
        if let d = config.textDim { return d }
        if emptyShards > 0 { tried.append("\(emptyShards) shard(s) listed with 0 samples, not opened") }
        throw WebDatasetError.noTextEmbedding(suffix: config.textSuffix, tried: tried)
    }

    /// FNV-1a over the shard file names and sizes and the sample configuration (sorted-key JSON).
    static func fingerprint(shards: [ResolvedShard], sample: EnrichedSampleConfig) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let config = (try? encoder.encode(sample)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let list = shards.map { "\($0.file.lastPathComponent):\($0.nsamples)" }.joined(separator: ",")
        return String(FNV1a.hash(list + "|" + config), radix: 16)
    }
}

/// A flag set once, read by many threads.
final class CancelFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

enum AssemblerOutput: Sendable {
    case batch(WebDatasetBatch)
    case failure(WebDatasetError)
}

/// The merge + shuffle buffer + collate thread. All of its state is the cursor (plus the buffered raw samples),
/// so the cursor attached to each batch is exactly what a resumed loader needs.
final class BatchAssembler: @unchecked Sendable {
    let config: ShardLoaderConfiguration
    let textDim: Int
    var cursor: WebDatasetCursor
    var buffer: [RawSample]
    let queues: [BlockingQueue<WorkerItem>]
    let output: BlockingQueue<AssemblerOutput>
    let pool: StoragePool

    init(config: ShardLoaderConfiguration, textDim: Int, cursor: WebDatasetCursor, buffer: [RawSample],
         queues: [BlockingQueue<WorkerItem>], output: BlockingQueue<AssemblerOutput>, pool: StoragePool) {
        self.config = config
        self.textDim = textDim
        self.cursor = cursor
        self.buffer = buffer
        self.queues = queues
        self.output = output
        self.pool = pool
    }

    func run() {
        while true {
            do {
                guard output.push(.batch(try nextBatch())) else { return }
            } catch {
                output.push(.failure(error as? WebDatasetError ?? .io(path: "<loader>", reason: "\(error)")))
                return
            }
        }
    }

    func nextBatch() throws -> WebDatasetBatch {
        let b = config.batchSize
        let size = cursor.bufferSize
        var picked: [RawSample] = []
        picked.reserveCapacity(b)
        if size == 0 {
            for _ in 0..<b { picked.append(try nextMerged()) }
        } else {
            while buffer.count < size { buffer.append(try nextMerged()) }
            // random.sample(range(len(buf)), batch_size), taken in descending order with swap-remove.
            var generator = SplitMix64(seed: cursor.seed ^ 0xB0FF_E2B0_FFE2_B0FF, index: UInt64(cursor.batchesDelivered))
            var positions = Array(0..<buffer.count)
            for i in 0..<b {
                let j = i + Int(generator.next().multipliedFullWidth(by: UInt64(positions.count - i)).high)
                positions.swapAt(i, j)
            }
            for i in positions[0..<b].sorted(by: >) {
                picked.append(buffer[i])
                buffer[i] = buffer[buffer.count - 1]
                buffer.removeLast()
            }
        }
        cursor.batchesDelivered += 1
        cursor.samplesDelivered += b
        cursor.buffer = buffer.map(\.ref)
        return WebDatasetBatch.assemble(picked, config: config.sample, textDim: textDim, cursor: cursor, reuse: pool.take())
    }

    /// The next sample of the merged stream: batch-size blocks from the readers in round-robin order; a new epoch
    /// when every reader has finished the current one.
    func nextMerged() throws -> RawSample {
        let w = cursor.workers.count
        while true {
            if cursor.workers.allSatisfy(\.finished) {
                guard cursor.samplesInEpoch > 0 else { throw WebDatasetError.noValidSamples(epoch: cursor.epoch, rank: cursor.rank) }
                cursor.epoch += 1
                cursor.samplesInEpoch = 0
                cursor.workers = Array(repeating: WorkerPosition(), count: w)
                cursor.rotation = 0
                cursor.takenInBlock = 0
                continue
            }
            let r = cursor.rotation
            if cursor.workers[r].finished {
                cursor.rotation = (r + 1) % w
                cursor.takenInBlock = 0
                continue
            }
            guard let item = queues[r].pop() else { throw WebDatasetError.loaderClosed }
            // Every item names its epoch: one from another epoch than the merge's means a reader and the cursor
            // disagree on where it stands — fail loudly rather than deliver a silently shifted stream.
            let itemEpoch: Int
            switch item {
            case .endOfEpoch(let e, _): itemEpoch = e
            case .sample(let raw, _, _): itemEpoch = raw.ref.epoch
            }
            guard itemEpoch == cursor.epoch else {
                throw WebDatasetError.io(path: "<loader>", reason: "internal error: reader \(r) delivered an item of epoch "
                                         + "\(itemEpoch) while the merge is in epoch \(cursor.epoch)")
            }
            switch item {
            case .endOfEpoch(_, let skips):
                cursor.skipped.add(skips)
                cursor.workers[r].finished = true
                cursor.rotation = (r + 1) % w
                cursor.takenInBlock = 0
            case .sample(let raw, let next, let skips):
                cursor.skipped.add(skips)
                cursor.workers[r] = next
                cursor.samplesInEpoch += 1
                cursor.takenInBlock += 1
                if cursor.takenInBlock == config.batchSize {
                    cursor.rotation = (r + 1) % w
                    cursor.takenInBlock = 0
                }
                return raw
            }
        }
    }
}

/// Recycled batch arrays (see `ShardLoader.recycle`), only those of the loader's shape. An array still shared with
/// the caller is safe to reuse: Swift's copy-on-write gives the assembler its own copy (and the saving is lost).
final class StoragePool: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [BatchStorage] = []
    let capacity: Int
    let batchSize: Int
    let latent: Int
    let tokens: Int
    let textDim: Int

    init(capacity: Int, batchSize: Int, latent: Int, tokens: Int, textDim: Int) {
        self.capacity = capacity
        self.batchSize = batchSize
        self.latent = latent
        self.tokens = tokens
        self.textDim = textDim
    }

    func put(_ storage: BatchStorage) {
        guard storage.text.count == batchSize * tokens * textDim, storage.textMask.count == batchSize * tokens,
              storage.vaeMean.count == batchSize * latent, storage.vaeStd.count == batchSize * latent else { return }
        lock.lock()
        defer { lock.unlock() }
        if items.count < capacity { items.append(storage) }
    }

    func take() -> BatchStorage? {
        lock.lock()
        defer { lock.unlock() }
        return items.popLast()
    }
}
