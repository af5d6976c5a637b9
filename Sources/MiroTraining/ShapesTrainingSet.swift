import Foundation
import Logging
import MiroData
import MiroEngine
import MiroFormats
import MiroModels
import MiroPipeline
import MiroRewards
import MiroShapes

/// The Shapes world prepared for training: generated, annotated with every reward, binned, and
/// held in memory as tensors (a few MB for 10k samples).
public final class ShapesTrainingSet {
    public let x0: Tensor            // (N, 3, 32, 32)
    public let text: Tensor          // (N, T, W)
    public let textMask: Tensor      // (N, T) bool
    public let rewards: Tensor       // (N, K) conditioning values in [0, 1] (k/(B−1) grid)
    public let scores: [String: [Float]]
    public let bins: RewardBins
    public let captions: [String]
    public let pixelNormalization: PixelNormalization
    public let rewardKeys: [String]

    public var count: Int { captions.count }

    /// Generates `count` samples of the Shapes world with `seed`, scores them with every Shapes
    /// reward, fits 64 quantile bins per reward (method §4.1) and encodes captions.
    ///
    /// `rewardKeys` are the rewards the model is conditioned on, in its `coherence_keys` order: all four by
    /// default, a subset for a specialist (the paper's single-reward models). Every reward is still scored,
    /// so summaries and correlations cover the whole world.
    public init(count: Int, seed: UInt64, encoder: ShapesTextEncoder, rewardKeys: [String] = ShapesRewards.keys,
                numBins: Int = 64, logger: Logger) throws {
        guard count > 0 else { throw TrainingError.badConfig("the Shapes training set needs a positive sample count, got \(count)") }
        try Self.checkRewardKeys(rewardKeys)
        let t0 = Date()
        let samples = ShapesWorld.dataset(count: count, seed: seed)
        let images = samples.map(\.image)
        captions = samples.map(\.caption)
        logger.info("generated \(count) Shapes samples (seed \(seed)) in \(String(format: "%.1f", Date().timeIntervalSince(t0)))s")

        let t1 = Date()
        scores = try ShapesRewards.score(images: images, captions: captions)
        self.rewardKeys = rewardKeys
        logger.info("scored \(ShapesRewards.keys.count) rewards in \(String(format: "%.1f", Date().timeIntervalSince(t1)))s")
        logger.info("reward correlations: \(RewardCorrelation(scores: scores, keys: ShapesRewards.keys).summary)")

        bins = RewardBins.fit(values: scores.mapValues { $0.map(Double.init) }, numBins: numBins)
        var conditioning = [Float](repeating: 0, count: count * rewardKeys.count)
        for (k, key) in rewardKeys.enumerated() {
            let values = scores[key] ?? []
            for i in 0..<count { conditioning[i * rewardKeys.count + k] = bins.conditioningValue(Double(values[i]), reward: key) }
        }
        rewards = try Tensor(conditioning, shape: [count, rewardKeys.count])

        pixelNormalization = PixelNormalization.fit(images)
        x0 = try pixelNormalization.encode(images)
        let encoded = encoder.encode(captions)
        text = try Tensor(encoded.embeddings, shape: [count, encoder.maxTokens, encoder.width])
        textMask = try Tensor(encoded.mask, shape: [count, encoder.maxTokens])
    }

    /// Throws unless `keys` are distinct Shapes rewards, at least one; the error lists the valid names.
    public static func checkRewardKeys(_ keys: [String]) throws {
        let unknown = keys.filter { !ShapesRewards.keys.contains($0) }
        guard unknown.isEmpty, !keys.isEmpty, Set(keys).count == keys.count else {
            throw TrainingError.badConfig("Shapes rewards must be distinct names out of \(ShapesRewards.keys.joined(separator: ", "))"
                + (unknown.isEmpty ? ", at least one" : "; unknown: \(unknown.joined(separator: ", "))")
                + " (got \(keys.isEmpty ? "none" : keys.joined(separator: ", ")))")
        }
    }

    /// Rows `indices` as a training batch.
    public func batch(_ indices: Tensor, unconditional: Bool) throws -> (x0: Tensor, conditioning: MIROConditioning) {
        let r = try rewards.indexSelect(0, indices)
        // The baseline sees constant rewards: the same tokens and compute, no reward information.
        let rewardsIn = unconditional ? try Tensor.ones(r.shape) : r
        return (try x0.indexSelect(0, indices),
                MIROConditioning(text: try text.indexSelect(0, indices), textMask: try textMask.indexSelect(0, indices),
                                 rewards: rewardsIn))
    }

    /// Mean raw score per reward, for summaries.
    public var meanScores: [String: Double] {
        scores.mapValues(\.mean)
    }
}

/// Position in the data stream: a seeded permutation per epoch, so a resumed run continues the
/// epoch exactly where it stopped.
public struct DataCursor: Codable, Sendable, Equatable {
    public var seed: UInt64
    public var epoch = 0
    public var position = 0
    /// The current epoch's permutation, derived from (seed, epoch) and kept between batches.
    private var order: (epoch: Int, indices: [Int64])? = nil

    private enum CodingKeys: String, CodingKey { case seed, epoch, position }

    public init(seed: UInt64) { self.seed = seed }

    public static func == (a: DataCursor, b: DataCursor) -> Bool {
        a.seed == b.seed && a.epoch == b.epoch && a.position == b.position
    }

    /// The next `batchSize` sample indices (wrapping into a new epoch when needed).
    public mutating func next(batchSize: Int, count: Int) throws -> Tensor {
        var indices: [Int64] = []
        while indices.count < batchSize {
            if position >= count { epoch += 1; position = 0 }
            if order?.epoch != epoch || order?.indices.count != count {
                let perm = try Tensor.randperm(count, generator: Generator(seed: seed &+ UInt64(epoch))).toArray(Int64.self)
                order = (epoch, perm)
            }
            let take = min(batchSize - indices.count, count - position)
            indices += order!.indices[position..<(position + take)]
            position += take
        }
        return try Tensor(indices)
    }
}
