import MiroPipeline

/// What a resumed run may change. Everything else is the run's own (stored in its checkpoints) and a resume
/// continues with it; the settings here change when the run stops, logs and saves, never what it computes.
public struct ResumeOverrides: Sendable, Equatable {
    /// A new step target; nil keeps the stored one. A run without a fixed schedule length
    /// (`train.scheduleSteps`) stretches its cosine to the new target, so only the stored target continues
    /// exactly as an uninterrupted run.
    public var steps: Int?
    public var logEvery: Int?
    public var sampleEvery: Int?
    public var saveEvery: Int?
    public var keepLast: Int?

    public init(steps: Int? = nil, logEvery: Int? = nil, sampleEvery: Int? = nil, saveEvery: Int? = nil, keepLast: Int? = nil) {
        self.steps = steps
        self.logEvery = logEvery
        self.sampleEvery = sampleEvery
        self.saveEvery = saveEvery
        self.keepLast = keepLast
    }

    /// `stored` with these settings applied.
    public func applied(to stored: RunConfig) -> RunConfig {
        var c = stored
        if let steps { c.train.steps = steps }
        if let logEvery { c.train.logEvery = logEvery }
        if let sampleEvery { c.train.sampleEvery = sampleEvery }
        if let saveEvery { c.train.saveEvery = saveEvery }
        if let keepLast { c.train.keepLast = keepLast }
        return c
    }

    /// Names of the settings that would change, for the log ("steps 1500 → 3000").
    public func changes(from stored: RunConfig) -> [String] {
        let t = stored.train
        var out: [String] = []
        func note(_ name: String, _ old: Int, _ new: Int?) { if let new, new != old { out.append("\(name) \(old) → \(new)") } }
        note("steps", t.steps, steps)
        note("log every", t.logEvery, logEvery)
        note("sample every", t.sampleEvery, sampleEvery)
        note("save every", t.saveEvery, saveEvery)
        note("keep last", t.keepLast, keepLast)
        return out
    }
}

/// The settings that define a run's computation, by the command-line flag that sets each: a resume that is
/// given one of them with a value other than the stored one would silently train something else, so it is
/// refused.
public enum ResumeCheck {
    /// flag → does `requested` set it to the same value as `stored`?
    static let settings: [(flag: String, same: @Sendable (RunConfig, RunConfig) -> Bool)] = [
        ("--preset", { $0.train.preset == $1.train.preset }),
        ("--network", { $0.train.networkOverride == $1.train.networkOverride }),
        ("--batch-size", { $0.train.batchSize == $1.train.batchSize }),
        ("--optimizer", { $0.train.optimizer == $1.train.optimizer }),
        ("--lr", { $0.train.learningRate == $1.train.learningRate }),
        ("--warmup", { $0.train.warmupSteps == $1.train.warmupSteps }),
        ("--ema-decay", { $0.train.emaDecay == $1.train.emaDecay }),
        ("--dataset-size", { $0.dataset.count == $1.dataset.count }),
        ("--dataset-seed", { $0.dataset.seed == $1.dataset.seed }),
        ("--seed", { $0.train.seed == $1.train.seed }),
        ("--reward-dropout", { $0.train.rewardDropout == $1.train.rewardDropout }),
        ("--reward-dropout-strategy", { $0.train.rewardDropoutStrategy == $1.train.rewardDropoutStrategy }),
        ("--unconditional", { $0.train.unconditional == $1.train.unconditional }),
        ("--rewards", { $0.network.coherenceKeys == $1.network.coherenceKeys }),
        ("--data", { $0.dataset.name == $1.dataset.name && $0.dataset.shards?.paths == $1.dataset.shards?.paths }),
        ("--bins", { $0.dataset.shards?.binsCache == $1.dataset.shards?.binsCache }),
        ("--synthetic-prob", { $0.dataset.shards?.syntheticProbability == $1.dataset.shards?.syntheticProbability }),
        ("--min-image-size", { $0.dataset.shards?.minImageSize == $1.dataset.shards?.minImageSize }),
        ("--workers", { $0.dataset.shards?.workers == $1.dataset.shards?.workers }),
        ("--shuffle-buffer", { $0.dataset.shards?.shuffleBuffer == $1.dataset.shards?.shuffleBuffer }),
    ]

    /// The flags in `given` whose requested value differs from the stored run's, with both values.
    public static func conflicts(requested: RunConfig, stored: RunConfig, given: Set<String>) -> [String] {
        settings.filter { given.contains($0.flag) && !$0.same(requested, stored) }.map(\.flag)
    }

    /// The error for `conflicts`, naming the flags and what to do instead.
    public static func error(_ conflicts: [String], run: String) -> TrainingError {
        .badConfig("--resume continues \(run) with its own settings, but \(conflicts.joined(separator: ", ")) "
            + "\(conflicts.count == 1 ? "asks" : "ask") for other values. Drop \(conflicts.count == 1 ? "it" : "them") "
            + "to continue the run as it was (its settings are in \(run)/run.json), or start a new run in another --run directory.")
    }
}
