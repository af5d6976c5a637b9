import Foundation
import MiroEngine
import MiroFormats
import MiroModels
import MiroPipeline

/// What the trainer reads: a dataset that opens seeded batch streams (the Shapes world in memory,
/// or enriched webdataset shards on disk).
public protocol TrainingData: AnyObject {
    /// The pixel normalisation of a pixel-space dataset (Shapes); nil for latent datasets.
    var normalization: PixelNormalization? { get }
    /// A stream positioned at the start of epoch 0, ordered by `seed`.
    func stream(seed: UInt64) throws -> any BatchStream
}

/// A resumable stream of training batches. Its cursor goes into every checkpoint, so a resumed run
/// reads exactly the batches an uninterrupted run would have read.
public protocol BatchStream: AnyObject {
    /// The next batch: x₀ in the model's data space (B, C, H, W) and its conditioning.
    /// `generator` serves draws that belong to the step rather than to the data order (the VAE
    /// posterior sample of latent datasets); its state is checkpointed by the trainer.
    func next(batchSize: Int, unconditional: Bool, generator: Generator) throws -> (x0: Tensor, conditioning: MIROConditioning)
    /// Epochs completed so far (for logs).
    var epoch: Int { get }
    /// The position as JSON (stored in checkpoints as `miro.data_cursor`).
    func cursorJSON() throws -> String
    /// Moves the stream to a position written by `cursorJSON()`.
    func restore(cursorJSON: String) throws
    /// Data-quality counters to log (skipped corrupt samples, filtered ones, …); empty when none.
    var counters: [String: Int] { get }
}

extension BatchStream {
    public var counters: [String: Int] { [:] }
}

// MARK: - Shapes

extension ShapesTrainingSet: TrainingData {
    public var normalization: PixelNormalization? { pixelNormalization }

    public func stream(seed: UInt64) throws -> any BatchStream { ShapesBatchStream(set: self, cursor: DataCursor(seed: seed)) }
}

/// The Shapes world's stream: a seeded permutation per epoch over the in-memory set.
final class ShapesBatchStream: BatchStream {
    let set: ShapesTrainingSet
    var cursor: DataCursor

    init(set: ShapesTrainingSet, cursor: DataCursor) {
        self.set = set
        self.cursor = cursor
    }

    func next(batchSize: Int, unconditional: Bool, generator: Generator) throws -> (x0: Tensor, conditioning: MIROConditioning) {
        try set.batch(try cursor.next(batchSize: batchSize, count: set.count), unconditional: unconditional)
    }

    var epoch: Int { cursor.epoch }

    func cursorJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(cursor), as: UTF8.self)
    }

    func restore(cursorJSON: String) throws {
        do {
            cursor = try JSONDecoder().decode(DataCursor.self, from: Data(cursorJSON.utf8))
        } catch {
            throw TrainingError.badConfig("checkpoint data cursor is not a Shapes cursor: \(error)")
        }
    }
}
