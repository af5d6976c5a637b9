// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.5): what one DataLoader worker does
// under `ShardExclusiveSampler` — read its exclusive shards, one after the other, in the planned sample order.
import Foundation
import Logging
import MiroFormats

/// What a reader thread hands to the merge: a usable sample with the reader's position after it, or the end of
/// its epoch. Skips met since the previous item ride along, so the merge counts exactly the skips behind the
/// samples it has consumed (and a resumed reader, which re-reads them, does not count them twice).
enum WorkerItem: Sendable {
    case sample(RawSample, next: WorkerPosition, skips: SkipCounters)
    case endOfEpoch(epoch: Int, skips: SkipCounters)
}

/// Everything the reader threads and the resume path share (immutable, or internally locked).
final class LoaderSource: Sendable {
    let shards: [ResolvedShard]
    let decoder: SampleDecoder
    let indexCache: ShardIndexCache
    let logger: Logger

    init(shards: [ResolvedShard], decoder: SampleDecoder, indexCacheSize: Int, logger: Logger) {
        self.shards = shards
        self.decoder = decoder
        indexCache = ShardIndexCache(capacity: indexCacheSize)
        self.logger = logger
    }

    /// Opens a shard and its (cached) index.
    func open(_ shard: Int) throws -> (TarArchive, ShardIndex) {
        let archive = try TarArchive(url: shards[shard].file)
        let index = indexCache.index(for: archive)
        if let damage = index.damage, index.samples.isEmpty { throw damage }
        return (archive, index)
    }

    /// Reads a sample back by reference (a resumed shuffle buffer); it must still be valid and carry its key.
    func reload(_ ref: SampleRef) throws -> RawSample {
        let path = ref.shard < shards.count ? shards[ref.shard].file.path : "#\(ref.shard)"
        guard ref.shard >= 0, ref.shard < shards.count else {
            throw WebDatasetError.resumeFailed(shard: path, key: ref.key, reason: "no such shard")
        }
        let archive: TarArchive
        let index: ShardIndex
        do { (archive, index) = try open(ref.shard) } catch {
            throw WebDatasetError.resumeFailed(shard: path, key: ref.key, reason: "\(error)")
        }
        guard ref.index >= 0, ref.index < index.count, index.samples[ref.index].key == ref.key else {
            throw WebDatasetError.resumeFailed(shard: path, key: ref.key, reason: "sample \(ref.index) is no longer '\(ref.key)'")
        }
        switch decoder.load(archive: archive, sample: index.samples[ref.index], shard: ref.shard, index: ref.index, epoch: ref.epoch) {
        case .sample(let raw): return raw
        case .skipped(let s): throw WebDatasetError.resumeFailed(shard: path, key: ref.key, reason: s.description)
        }
    }

    func log(_ skip: SampleSkip) {
        let metadata: Logger.Metadata = ["shard": "\(skip.shard)", "key": "\(printableName(skip.key))", "reason": "\(skip.reason.rawValue)"]
        if skip.reason.isFilter {
            logger.trace("filtered sample: \(skip.detail)", metadata: metadata)
        } else {
            logger.warning("skipping corrupt sample: \(skip.detail)", metadata: metadata)
        }
    }
}

/// One reader thread's loop: epoch after epoch, its visits of the epoch plan in order, each shard's samples in
/// the planned order, pushing usable samples into its own bounded queue. It starts at `start` in `startEpoch`
/// (a fresh run starts at epoch 0, visit 0, slot 0) and stops when the queue is cancelled.
///
/// The queue must carry exactly the items the merge has not consumed yet, because the merge takes a reader's
/// items by position, not by content. A `finished` start position therefore means "the merge has already taken
/// this reader's end-of-epoch marker (and counted its skips)": the reader starts at the next epoch and sends no
/// marker for `startEpoch`. Sending it again — as this loop once did — made the merge take the stale marker as
/// the end of the reader's *next* epoch as soon as the merge reached it, so a resumed run skipped that reader's
/// whole next epoch and drifted from the uninterrupted stream. Any cursor taken while some readers had finished
/// the epoch and others had not was affected; small shuffle buffers take such cursors most often.
struct ShardReaderWorker: Sendable {
    let worker: Int
    let source: LoaderSource
    let planner: EpochPlanner
    let queue: BlockingQueue<WorkerItem>
    let isCancelled: @Sendable () -> Bool

    func run(startEpoch: Int, start: WorkerPosition) {
        var epoch = start.finished ? startEpoch + 1 : startEpoch
        var position = start.finished ? WorkerPosition() : start
        while !isCancelled() {
            var skips = SkipCounters()
            let visits = planner.plan(epoch).workers[worker]
            for v in position.visit..<max(position.visit, visits.count) {
                let firstSlot = v == position.visit ? position.slot : 0
                guard read(visits[v], visit: v, from: firstSlot, epoch: epoch, skips: &skips) else { return }
            }
            guard queue.push(.endOfEpoch(epoch: epoch, skips: skips)) else { return }
            epoch += 1
            position = WorkerPosition()
        }
    }

    /// Reads one shard visit from `firstSlot`; false when cancelled.
    private func read(_ visit: ShardVisit, visit v: Int, from firstSlot: Int, epoch: Int, skips: inout SkipCounters) -> Bool {
        let order = visit.order()
        guard firstSlot < order.count else { return true }
        let path = source.shards[visit.shard].file.path
        let archive: TarArchive
        let index: ShardIndex
        do { (archive, index) = try source.open(visit.shard) } catch {
            source.logger.error("skipping unreadable shard: \(error)", metadata: ["shard": "\(path)", "epoch": "\(epoch)"])
            skips.add(.unreadableShard, order.count - firstSlot)
            return true
        }
        if let damage = index.damage {
            source.logger.warning("damaged shard, reading the samples before the damage: \(damage)", metadata: ["shard": "\(path)"])
        }
        if index.count != visit.plannedCount {
            source.logger.warning(
                "shard holds \(index.count) samples but the index says \(visit.plannedCount); samples beyond the shard are skipped, extra ones are not read",
                metadata: ["shard": "\(path)"])
        }
        for slot in firstSlot..<order.count {
            if isCancelled() { return false }
            let i = order[slot]
            guard i < index.count else {
                skips.add(.missingSample)
                continue
            }
            switch source.decoder.load(archive: archive, sample: index.samples[i], shard: visit.shard, index: i, epoch: epoch) {
            case .skipped(let s):
                skips.add(s.reason)
                source.log(s)
            case .sample(let raw):
                let next = WorkerPosition(visit: v, slot: slot + 1, finished: false)
                guard queue.push(.sample(raw, next: next, skips: skips)) else { return false }
                skips = SkipCounters()
            }
        }
        return true
    }
}
