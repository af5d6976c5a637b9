import Foundation
import MiroImage

/// The text chunks every generated PNG carries: an A1111-style `parameters` chunk (what image viewers and
/// web UIs read) and, for training-checkpoint samples, a `miro` JSON chunk with the exact settings.
public struct GenerationMetadata: Sendable {
    public var prompt: String
    public var steps: Int
    public var guidance: Double
    public var seed: UInt64
    /// Index within one batch of the same seed (official folders sample `n` images per noise draw).
    public var batchIndex: Int?
    public var width: Int
    public var height: Int
    /// The checkpoint file, run or folder the weights came from.
    public var model: String
    public var modelStep: Int?
    public var rewardTargets: [String: Double]
    public var negativeRewardTargets: [String: Double]
    /// What the negative branch reads as text ("same", "empty", "uncond_embedding.npy").
    public var negativeText: String
    /// miro-swift's version.
    public var version: String

    public init(prompt: String, steps: Int, guidance: Double, seed: UInt64, batchIndex: Int? = nil, width: Int, height: Int,
                model: String, modelStep: Int? = nil, rewardTargets: [String: Double], negativeRewardTargets: [String: Double],
                negativeText: String, version: String) {
        self.prompt = prompt
        self.steps = steps
        self.guidance = guidance
        self.seed = seed
        self.batchIndex = batchIndex
        self.width = width
        self.height = height
        self.model = model
        self.modelStep = modelStep
        self.rewardTargets = rewardTargets
        self.negativeRewardTargets = negativeRewardTargets
        self.negativeText = negativeText
        self.version = version
    }

    /// The `parameters` chunk: the prompt, then `Key: value` pairs (unnamed rewards: positive 1, negative 0).
    public var parameters: PNGText {
        func targets(_ t: [String: Double]) -> String { t.keys.sorted().map { "\($0)=\(t[$0]!)" }.joined(separator: " ") }
        var fields = [("Steps", "\(steps)"), ("Sampler", "Euler (flow)"), ("CFG scale", "\(guidance)"), ("Seed", "\(seed)")]
        if let batchIndex { fields.append(("Batch index", "\(batchIndex)")) }
        fields += [("Size", "\(width)x\(height)"), ("Model", model)]
        if let modelStep { fields.append(("Model step", "\(modelStep)")) }
        let positive = targets(rewardTargets), negative = targets(negativeRewardTargets)
        fields += [("Rewards", positive.isEmpty ? "all=1" : positive), ("Negative rewards", negative.isEmpty ? "all=0" : negative),
                   ("Negative text", negativeText), ("Guidance", "miro (1+w)c-wu"), ("Version", "miro-swift \(version)")]
        return PNGText("parameters", PNG.infotext(prompt: prompt, settings: fields))
    }

    /// The `miro` chunk: these settings and `extra` as one JSON object with sorted keys.
    public func miroChunk(extra: [String: Any]) throws -> PNGText {
        var json: [String: Any] = [
            "prompt": prompt, "seed": seed, "steps": steps, "guidance": guidance, "reward_targets": rewardTargets,
            "negative_reward_targets": negativeRewardTargets, "negative_text": negativeText, "checkpoint": model,
            "version": version,
        ]
        if let modelStep { json["checkpoint_step"] = modelStep }
        json.merge(extra) { _, new in new }
        return PNGText("miro", String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
    }
}
