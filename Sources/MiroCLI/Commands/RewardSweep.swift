import Foundation
import MiroData
import MiroTraining

/// The reward-target sweep: for each reward, its target at each value with the other rewards at
/// 1, and the mean of that reward measured on the generated images.
struct RewardSweep: Codable {
    var targets: [Double]
    /// reward → mean measured value per target.
    var means: [String: [Double]]
    /// The quality reward's factors (sharpness, noise, blockiness) per quality target: which defect moves.
    var qualityFactors: [String: [Double]]? = nil

    /// Two images per held-out ShapesEval prompt, so that every prompt counts the same.
    static let defaultImages = 84

    static func run(_ pipeline: ShapesPipeline, settings: ShapesPipeline.Settings, targets: [Double], images: Int) throws -> RewardSweep {
        let prompts = ShapesEval.prompts().map(\.prompt)
        let texts = (0..<images).map { prompts[$0 % prompts.count] }
        var means: [String: [Double]] = [:]
        var factors: [String: [Double]] = [:]
        for key in pipeline.rewardKeys {
            guard let reward = ShapesRewards.all.first(where: { $0.name == key }) else { continue }
            for value in targets {
                var s = settings
                s.rewardTargets = [key: value]
                let generated = try pipeline.generate(texts, settings: s, batch: 64)
                means[key, default: []].append(try reward.score(images: generated, captions: texts).mean)
                if key == QualityReward().name {
                    for (name, value) in QualityReward.meanFactors(generated) { factors[name, default: []].append(value) }
                }
            }
        }
        return RewardSweep(targets: targets, means: means, qualityFactors: factors.isEmpty ? nil : factors)
    }

    func isMonotonic(_ key: String) -> Bool {
        guard let m = means[key] else { return false }
        return zip(m, m.dropFirst()).allSatisfy { $0 <= $1 }
    }

    func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }

    func table() -> String {
        var lines = ["reward target sweep (others at 1): measured mean at target " + targets.map { String($0) }.joined(separator: " / ")]
        for key in means.keys.sorted() {
            let values = means[key]!.map { String(format: "%.4f", $0) }.joined(separator: " / ")
            lines.append("  " + key.padding(toLength: 22, withPad: " ", startingAt: 0) + " " + values + "  "
                         + (isMonotonic(key) ? "monotonic" : "not monotonic"))
        }
        if let f = qualityFactors {
            let parts = QualityReward.factorNames.compactMap { k in
                f[k].map { k + " " + $0.map { String(format: "%.3f", $0) }.joined(separator: " / ") }
            }
            lines.append("    quality factors: " + parts.joined(separator: " · "))
        }
        return lines.joined(separator: "\n")
    }
}
