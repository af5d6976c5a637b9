import Foundation
import MiroData
import MiroPipeline
import MiroRewards
import MiroShapes

/// The reward-target sweep: for each reward, its target at each value with the other rewards at
/// 1, and the mean of that reward measured on the generated images.
///
/// Negative targets are the sampler's default (every reward 0) unless `isolated`: then the negative
/// branch holds every other reward at 1 too and only the swept reward at 0 — the paper's per-reward
/// isolation (method §7.3), where the shared direction cancels and CFG pushes along that reward alone.
///
/// Every target is sampled from the same prompts and the same noise (one seed per chunk), so a target's effect
/// is read image by image: the rise from the first to the last target is judged against the standard error of
/// the per-image differences, not of two independent means (which would count the spread between prompts and
/// noise draws, shared by both ends, as noise).
public struct RewardSweep: Codable, Sendable {
    public var targets: [Double]
    public var isolated: Bool? = nil
    /// reward → mean measured value per target.
    public var means: [String: [Double]]
    /// reward → standard error of each mean (sample s.d. / √n); absent in sweeps written before it was kept.
    public var standardErrors: [String: [Double]]? = nil
    /// reward → standard error of the mean per-image rise (last target − first, same prompt and noise);
    /// absent in sweeps written before it was kept.
    public var riseStandardErrors: [String: Double]? = nil
    /// The quality reward's factors (sharpness, noise, blockiness) per quality target: which defect moves.
    public var qualityFactors: [String: [Double]]? = nil

    /// Two images per held-out ShapesEval prompt, so that every prompt counts the same.
    public static let defaultImages = 84

    public init(targets: [Double], isolated: Bool? = nil, means: [String: [Double]],
                standardErrors: [String: [Double]]? = nil, riseStandardErrors: [String: Double]? = nil,
                qualityFactors: [String: [Double]]? = nil) {
        self.targets = targets
        self.isolated = isolated
        self.means = means
        self.standardErrors = standardErrors
        self.riseStandardErrors = riseStandardErrors
        self.qualityFactors = qualityFactors
    }

    /// The most images per target `run` makes (it holds one target's images in memory at once).
    public static let maxImages = 10_000

    public static func run(_ pipeline: ShapesPipeline, settings: ShapesPipeline.Settings, targets: [Double], images: Int,
                           isolated: Bool = false) throws -> RewardSweep {
        guard (1...maxImages).contains(images) else { throw InputError("sweep images must be in 1…\(maxImages), got \(images)") }
        let prompts = ShapesEval.prompts().map(\.prompt)
        let texts = (0..<images).map { prompts[$0 % prompts.count] }
        var means: [String: [Double]] = [:], errors: [String: [Double]] = [:], riseErrors: [String: Double] = [:]
        var factors: [String: [Double]] = [:]
        for key in pipeline.rewardKeys {
            guard let reward = ShapesRewards.all.first(where: { $0.name == key }) else { continue }
            var firstScores: [Float] = [], lastScores: [Float] = []
            for (i, value) in targets.enumerated() {
                var s = settings
                s.rewardTargets = [key: value]
                if isolated {
                    s.negativeRewardTargets = Dictionary(uniqueKeysWithValues: pipeline.rewardKeys.map { ($0, $0 == key ? 0 : 1) })
                }
                let generated = try pipeline.generate(texts, settings: s, batch: 64)
                let scores = try reward.score(images: generated, captions: texts)
                means[key, default: []].append(scores.mean)
                errors[key, default: []].append(Self.standardError(scores))
                if i == 0 { firstScores = scores }
                if i == targets.count - 1 { lastScores = scores }
                if key == QualityReward().name {
                    for (name, mean) in QualityReward.meanFactors(generated) { factors[name, default: []].append(mean) }
                }
            }
            riseErrors[key] = Self.standardError(zip(lastScores, firstScores).map { $0 - $1 })
        }
        return RewardSweep(targets: targets, isolated: isolated ? true : nil, means: means, standardErrors: errors,
                           riseStandardErrors: riseErrors, qualityFactors: factors.isEmpty ? nil : factors)
    }

    /// Sample standard deviation / √n (0 for fewer than two scores).
    static func standardError(_ scores: [Float]) -> Double {
        guard scores.count > 1 else { return 0 }
        let m = scores.mean
        let variance = scores.reduce(0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(scores.count - 1)
        return (variance / Double(scores.count)).squareRoot()
    }

    public func isMonotonic(_ key: String) -> Bool {
        guard let m = means[key] else { return false }
        return zip(m, m.dropFirst()).allSatisfy { $0 <= $1 }
    }

    /// What the sweep shows for one reward. A non-decreasing sequence whose total rise (last − first target)
    /// is at most two standard errors of that rise is "flat": the order may be chance. The s.e. is the paired
    /// one (`riseStandardErrors`); sweeps written before it was kept fall back to treating the two ends as
    /// independent, √(se_first² + se_last²), which overstates the noise. Without any standard errors only a
    /// rise of exactly 0 is flat.
    public func verdict(_ key: String) -> String {
        guard isMonotonic(key) else { return "not monotonic" }
        guard let m = means[key], let first = m.first, let last = m.last else { return "not monotonic" }
        let rise = last - first
        let noise: Double
        if let paired = riseStandardErrors?[key] {
            noise = 2 * paired
        } else if let se = standardErrors?[key], let seFirst = se.first, let seLast = se.last {
            noise = 2 * (seFirst * seFirst + seLast * seLast).squareRoot()
        } else {
            return rise > 0 ? "monotonic" : "flat (no rise)"
        }
        let verdict = rise > noise ? "monotonic" : "flat"
        return verdict + String(format: " (rise %.4f %@ 2 s.e. %.4f)", rise, rise > noise ? ">" : "≤", noise)
    }

    public func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }

    public func table() -> String {
        let negatives = isolated == true ? "negative: others at 1, this one at 0" : "negative: all at 0"
        var lines = ["reward target sweep (others at 1; \(negatives); same prompts and noise at every target): measured mean at target "
                     + targets.map { String($0) }.joined(separator: " / ")]
        for (key, m) in means.sorted(by: { $0.key < $1.key }) {
            let values = m.map { String(format: "%.4f", $0) }.joined(separator: " / ")
            lines.append("  " + key.padding(toLength: 22, withPad: " ", startingAt: 0) + " " + values + "  " + verdict(key))
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
