// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.5): the data position a checkpoint
// needs to resume. The official loader has none (Lightning restarts the epoch); this makes resume exact.
import Foundation

/// Where one reader thread stands in the current epoch, counting only what the merge has consumed: the next
/// shard visit and the next slot in that shard's sample order, or `finished` once the merge has taken the reader's
/// end-of-epoch marker (a resumed reader then starts at the next epoch; see `ShardReaderWorker`).
public struct WorkerPosition: Sendable, Codable, Equatable {
    public var visit: Int
    public var slot: Int
    public var finished: Bool

    public init(visit: Int = 0, slot: Int = 0, finished: Bool = false) {
        self.visit = visit
        self.slot = slot
        self.finished = finished
    }
}

/// The loader's complete position, stored in checkpoints. A loader built from it produces exactly the batches
/// an uninterrupted run would have produced next.
///
/// It is a position, not a replay log: each reader's place in the epoch plan (which the seeds regenerate), the
/// round-robin merge state, and the shuffle buffer's contents as sample references (re-read by random access on
/// resume — `bufferSize` samples, never the samples already delivered). The merge consumes reader outputs in a
/// fixed order and the buffer's draws are seeded by the batch number, so nothing depends on thread timing.
/// Encoded as JSON it is a few hundred bytes plus ~60 bytes per buffered sample.
public struct WebDatasetCursor: Sendable, Codable, Equatable {
    public static let formatName = "miro-webdataset-cursor-v1"
    public var format = WebDatasetCursor.formatName

    // Identity of the stream: a cursor only resumes the loader configuration that wrote it.
    public var samplerSeed: Int
    public var seed: UInt64
    public var numWorkers: Int
    public var batchSize: Int
    public var bufferSize: Int
    public var rank: Int
    public var worldSize: Int
    public var shuffle: Bool
    /// Hash of the shard list (file names and sample counts) and of the sample configuration.
    public var fingerprint: String

    // Position.
    /// Epoch the readers' merge is in (batches may still hold buffered samples of the previous epoch).
    public var epoch: Int
    /// Samples of `epoch` merged into the buffer so far.
    public var samplesInEpoch: Int
    public var workers: [WorkerPosition]
    /// Reader whose batch-size block is being merged, and how many samples of the block it has given.
    public var rotation: Int
    public var takenInBlock: Int
    /// The shuffle buffer, in buffer order (the order matters for the seeded draws).
    public var buffer: [SampleRef]
    public var batchesDelivered: Int
    public var samplesDelivered: Int
    /// Skipped samples among those merged so far.
    public var skipped: SkipCounters

    /// The cursor as compact JSON (for a checkpoint's metadata).
    public func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads a cursor written by `jsonString()`.
    public static func decode(jsonString: String) throws -> WebDatasetCursor {
        let cursor: WebDatasetCursor
        do { cursor = try JSONDecoder().decode(WebDatasetCursor.self, from: Data(jsonString.utf8)) } catch {
            throw WebDatasetError.malformedIndex(file: "<data cursor>", field: "", reason: "not a webdataset cursor: \(error)")
        }
        guard cursor.format == formatName else {
            throw WebDatasetError.malformedIndex(file: "<data cursor>", field: "format",
                                                 reason: "'\(cursor.format)' is not '\(formatName)'")
        }
        return cursor
    }

    /// Throws `cursorMismatch` naming the first identity field that differs from `other` (the loader's fresh
    /// cursor).
    func checkSameStream(as other: WebDatasetCursor) throws {
        func check<T: Equatable>(_ name: String, _ a: T, _ b: T) throws {
            if a != b { throw WebDatasetError.cursorMismatch(field: name, cursor: "\(a)", loader: "\(b)") }
        }
        try check("format", format, other.format)
        try check("samplerSeed", samplerSeed, other.samplerSeed)
        try check("seed", seed, other.seed)
        try check("numWorkers", numWorkers, other.numWorkers)
        try check("batchSize", batchSize, other.batchSize)
        try check("bufferSize", bufferSize, other.bufferSize)
        try check("rank", rank, other.rank)
        try check("worldSize", worldSize, other.worldSize)
        try check("shuffle", shuffle, other.shuffle)
        try check("fingerprint (shard list and sample configuration)", fingerprint, other.fingerprint)
        // The position comes from a checkpoint file: every counter the loader indexes or adds to is bounded here,
        // so a damaged cursor is this error, never a trap in a reader thread.
        let limit = 1 << 48
        guard workers.count == numWorkers, (0..<max(1, numWorkers)).contains(rotation), takenInBlock >= 0,
              takenInBlock < batchSize, (0..<limit).contains(epoch), buffer.count <= max(bufferSize, batchSize),
              (0..<limit).contains(samplesInEpoch), (0..<limit).contains(batchesDelivered),
              (0..<limit).contains(samplesDelivered),
              workers.allSatisfy({ (0..<limit).contains($0.visit) && (0..<limit).contains($0.slot) }),
              buffer.allSatisfy({ (0..<limit).contains($0.epoch) && $0.shard >= 0 && $0.index >= 0 }),
              skipped.counts.values.allSatisfy({ (0..<limit).contains($0) }) else {
            throw WebDatasetError.cursorMismatch(field: "position", cursor: "inconsistent", loader: "a valid position")
        }
    }
}
