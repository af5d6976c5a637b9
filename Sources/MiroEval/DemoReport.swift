import Foundation

/// `summary.txt` of `miro demo`: what ran (steps, seed, time, how the step count was chosen), the command that
/// trains the same weights again, what to look at in each output file, then the result tables.
public struct DemoReport: Sendable {
    /// Trained steps.
    public var steps: Int
    /// The step target when the time budget stopped training before it (nil when it was reached).
    public var targetSteps: Int?
    public var seed: UInt64
    public var batchSize: Int
    public var seconds: Double
    public var budgetMinutes: Double
    /// How the step count was chosen, e.g. "planned to fit the budget (…)" or "given with --steps".
    public var stepsChosenBy: String
    /// The evaluation tier that ran (`DemoEvaluation.name`).
    public var evaluation: String
    /// The run directory, as the user named it.
    public var directory: String
    /// Paths written, relative to `directory`.
    public var files: [String]
    /// Result tables, printed after the guide.
    public var tables: [String]

    public init(steps: Int, targetSteps: Int? = nil, seed: UInt64, batchSize: Int, seconds: Double, budgetMinutes: Double,
                stepsChosenBy: String, evaluation: String, directory: String, files: [String], tables: [String]) {
        self.steps = steps
        self.targetSteps = targetSteps
        self.seed = seed
        self.batchSize = batchSize
        self.seconds = seconds
        self.budgetMinutes = budgetMinutes
        self.stepsChosenBy = stepsChosenBy
        self.evaluation = evaluation
        self.directory = directory
        self.files = files
        self.tables = tables
    }

    /// What to look at in each file the demo may write, in reading order (the README and docs/demo.md say the same).
    public static let descriptions: [(path: String, look: String)] = [
        ("samples/final.png", "samples of six prompts (columns) under each reward setting (rows), same noise in every row. "
            + "Compare 'all rewards high' with 'all rewards low' to see the reward control as a whole, and each "
            + "'only X high' row with the first to see what pushing one reward alone does."),
        ("samples/training_by_reward.png", "real training images from the low, middle and high third of each reward's "
            + "scores: what a high or low value of each reward looks like in the data the model learned from."),
        ("plots/loss.png", "the training loss against the step: a steep fall, then a slow one; a late rise means training diverged."),
        ("samples/shapeseval.png", "the ShapesEval images in prompt order, each with the detector's verdict (OK / MISS) and its "
            + "prompt under it: what the benchmark score counts."),
        ("plots/reward_sweep.png", "each reward's measured mean as its own target goes 0 -> 0.5 -> 1 (the others at 1): a rising "
            + "line means the model follows that reward; a flat one, that it does not (yet)."),
        ("eval.json", "ShapesEval per category, mean rewards and every image's scores (`miro eval --compare-to` reads it)."),
        ("reward_sweep.json", "the numbers behind the left sweep plot (negative branch: all rewards 0)."),
        ("reward_sweep_isolated.json", "the numbers behind the right sweep plot (negative branch: the others at 1, so only "
            + "the swept reward's direction remains)."),
        ("metrics.jsonl", "one JSON line per logged step: loss, learning rate, gradient norm, speed."),
        ("checkpoints/", "the weights (raw and EMA): `miro sample --checkpoint DIR \"a red circle\"`, `miro eval --checkpoint DIR`."),
        ("run.json", "the run's full configuration."),
    ]

    /// `miro demo --steps N --seed S`, plus the batch size and evaluation size when they are not the defaults.
    public static func reproduceCommand(steps: Int, seed: UInt64, batchSize: Int, evaluation: String) -> String {
        var command = "miro demo --steps \(steps) --seed \(seed)"
        if batchSize != 32 { command += " --batch-size \(batchSize)" }
        if evaluation != "full" { command += " --eval-size \(evaluation)" }
        return command
    }

    /// "9m 05s", "45s".
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(min(seconds, 1e9).rounded())
        return s >= 60 ? String(format: "%dm %02ds", s / 60, s % 60) : "\(s)s"
    }

    public func text() -> String {
        var lines = ["MIRO demo on the Shapes world: \(steps) training steps x batch \(batchSize), seed \(seed), "
                     + "\(Self.duration(seconds)) in total (budget \(Self.minutes(budgetMinutes)))"]
        lines.append("steps: \(stepsChosenBy); evaluation: \(evaluation)")
        if let targetSteps {
            lines.append("training stopped at step \(steps) of the planned \(targetSteps) to keep within the budget; "
                         + "the schedule was the one for \(targetSteps) steps")
        }
        let command = Self.reproduceCommand(steps: targetSteps ?? steps, seed: seed, batchSize: batchSize, evaluation: evaluation)
        lines.append("the same weights again: \(command)" + (targetSteps == nil ? "" : " (trains all \(targetSteps ?? steps) steps)"))
        lines.append("")
        lines.append("What to look at (in \(directory)):")
        let width = (Self.descriptions.map(\.path.count).max() ?? 0) + 2
        for (path, look) in Self.descriptions where files.contains(path) {
            lines.append("  " + path.padding(toLength: width, withPad: " ", startingAt: 0) + look)
        }
        return (lines + [""] + [tables.joined(separator: "\n\n")]).joined(separator: "\n")
    }

    static func minutes(_ m: Double) -> String {
        m == m.rounded() && abs(m) < 1e9 ? "\(Int(m)) min" : String(format: "%.1f min", m)
    }
}
