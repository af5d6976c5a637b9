import Foundation
import MiroPipeline
import MiroTraining

/// A failure of the convergence experiment itself (not of its options).
public struct ExperimentError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The files and bookkeeping of `miro experiment convergence`: baseline (no reward information) vs MIRO on the
/// same data and budget, each trained as a normal run in `<out>/<variant>` that records its evaluations in
/// `evaluations.json` there, so an interrupted experiment resumes; then the paper's speed-up report and the
/// reward-target sweeps of MIRO's final weights.
public struct ConvergenceExperiment: Sendable {
    public static let variants = ["baseline", "miro"]
    /// The sweeps of MIRO's final weights: negative all 0, then per-reward isolation.
    public static let sweepFiles = ["reward_sweep.json", "reward_sweep_isolated.json"]

    public let out: URL

    public init(out: URL) { self.out = out }

    public func runDirectory(_ variant: String) -> URL { out.appendingPathComponent(variant) }
    public func evaluationsFile(_ variant: String) -> URL { runDirectory(variant).appendingPathComponent("evaluations.json") }

    /// A variant's recorded evaluations (none before the first).
    public func evaluations(_ variant: String) throws -> [ConvergencePoint] {
        let file = evaluationsFile(variant)
        guard FileManager.default.fileExists(atPath: file.path) else { return [] }
        do { return try JSONDecoder().decode([ConvergencePoint].self, from: Data(contentsOf: file)) } catch {
            throw ExperimentError("\(file.path): not a list of evaluations (\(error))")
        }
    }

    /// The evaluations a run resumed at `step` keeps: those past its checkpoint belong to steps that will be
    /// trained again.
    public func evaluations(_ variant: String, resumingAt step: Int) throws -> [ConvergencePoint] {
        try evaluations(variant).filter { $0.step <= step }
    }

    public func save(_ points: [ConvergencePoint], variant: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try Data(try encoder.encode(points)).write(to: evaluationsFile(variant), options: .atomic)
    }

    /// ShapesEval of a trainer's EMA weights at its current step, as one curve point.
    public static func evaluate(_ trainer: Trainer, settings: ShapesPipeline.Settings, perPrompt: Int) throws -> ConvergencePoint {
        let pipeline = try ShapesPipeline(model: try trainer.emaModel(), config: trainer.config, step: trainer.step)
        let (e, _) = try ShapesEvaluation.run(pipeline, settings: settings, perPrompt: perPrompt)
        return ConvergencePoint(step: trainer.step, overall: e.overall, rewards: e.rewards, categories: e.categories)
    }

    /// Both reward-target sweeps of a trainer's final EMA weights, written to `sweepFiles`.
    public func writeSweeps(_ trainer: Trainer, settings: ShapesPipeline.Settings, images: Int) throws {
        let pipeline = try ShapesPipeline(model: try trainer.emaModel(), config: trainer.config, step: trainer.step)
        for isolated in [false, true] {
            let sweep = try RewardSweep.run(pipeline, settings: settings, targets: [0, 0.5, 1], images: images, isolated: isolated)
            try Data(try sweep.json().utf8).write(to: out.appendingPathComponent(Self.sweepFiles[isolated ? 1 : 0]),
                                                  options: .atomic)
        }
    }

    /// The speed-up table, CSV and plot from both variants' evaluations, and the sweep tables (written to
    /// `convergence.txt` with the speed-ups); returns the text to print. Both models must have reached the
    /// same final step, at least `steps`.
    public func report(steps: Int, includeSweeps: Bool) throws -> String {
        let curves = try Self.variants.map { try evaluations($0) }
        // --resume may have raised the step budget over --steps; both models must have reached the same end.
        let end = max(steps, curves.compactMap(\.last?.step).max() ?? 0)
        for (v, points) in zip(Self.variants, curves) where points.last?.step != end {
            throw ExperimentError("\(v) has no evaluation at step \(end) in \(runDirectory(v).path) (last: "
                + "\(points.last.map { "step \($0.step)" } ?? "none")); continue with the same command and --resume")
        }
        let report = try ConvergenceReport(baseline: curves[0], miro: curves[1])
        try report.write(to: out)
        // The default-negative sweep, then the isolated one (absent in runs made before it was added).
        let sweeps = try Self.sweepFiles.map { out.appendingPathComponent($0) }
            .filter { includeSweeps && FileManager.default.fileExists(atPath: $0.path) }
            .map { try JSONDecoder().decode(RewardSweep.self, from: Data(contentsOf: $0)).table() }
        guard !sweeps.isEmpty else { return report.table() }
        try Data(([report.table()] + sweeps).joined(separator: "\n\n").appending("\n").utf8)
            .write(to: out.appendingPathComponent("convergence.txt"), options: .atomic)
        return ([report.table()] + sweeps.map { "\n" + $0 }).joined(separator: "\n")
    }
}
