import Foundation

/// Plans how many training steps fit in a time budget once the work after training is paid for.
///
/// The demo times its first training steps and the sampler, prices each evaluation size it could run
/// ("tiers", largest first) and asks for a plan: the largest tier that takes at most `maxEvaluationShare` of
/// the budget and still leaves `minimumSteps`, and as many steps as fit in what remains after a safety
/// margin. Pure arithmetic, so the choices can be tested without training anything.
public struct StepBudget: Sendable, Equatable {
    /// The whole budget, in seconds.
    public var budget: Double
    /// Seconds already spent (setup, data, the timed steps, the sampler probe).
    public var elapsed: Double
    /// Steps already trained (they count towards the plan).
    public var stepsDone: Int
    /// Measured seconds per training step.
    public var secondsPerStep: Double
    /// Predicted seconds of each evaluation tier, largest (most complete) first.
    public var tierSeconds: [Double]
    /// No plan has fewer steps (the demo sets it to its warm-up, so retargeting never changes a rate already used).
    public var minimumSteps: Int
    /// The largest part of the budget the evaluation may take while a smaller tier exists.
    public var maxEvaluationShare: Double
    /// Part of the budget kept free for what timing cannot foresee (checkpoint writes, a busier CPU).
    public var safetyShare: Double

    public init(budget: Double, elapsed: Double, stepsDone: Int, secondsPerStep: Double, tierSeconds: [Double],
                minimumSteps: Int, maxEvaluationShare: Double = 0.3, safetyShare: Double = 0.04) {
        self.budget = budget
        self.elapsed = elapsed
        self.stepsDone = stepsDone
        self.secondsPerStep = secondsPerStep
        self.tierSeconds = tierSeconds
        self.minimumSteps = minimumSteps
        self.maxEvaluationShare = maxEvaluationShare
        self.safetyShare = safetyShare
    }

    public struct Plan: Sendable, Equatable {
        /// Total training steps (including `stepsDone`).
        public var steps: Int
        /// Index into `tierSeconds` of the evaluation to run.
        public var tier: Int
        /// Predicted end-to-end seconds.
        public var predictedSeconds: Double
        /// True when even the minimum steps with the smallest tier overrun the budget: the plan is that minimum.
        public var overBudget: Bool

        public init(steps: Int, tier: Int, predictedSeconds: Double, overBudget: Bool) {
            self.steps = steps
            self.tier = tier
            self.predictedSeconds = predictedSeconds
            self.overBudget = overBudget
        }
    }

    /// The largest step count the plan may return (far beyond a demo, and safe for every step computation).
    public static let maximumSteps = 100_000_000

    public func plan() throws -> Plan {
        guard budget.isFinite, budget > 0, elapsed.isFinite, elapsed >= 0 else {
            throw TrainingError.badConfig("step budget: the budget (\(budget) s) must be positive and the time spent (\(elapsed) s) not negative")
        }
        guard secondsPerStep.isFinite, secondsPerStep > 0 else {
            throw TrainingError.badConfig("step budget: seconds per step must be a positive number, got \(secondsPerStep)")
        }
        guard !tierSeconds.isEmpty, tierSeconds.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw TrainingError.badConfig("step budget: needs at least one evaluation tier, each a cost ≥ 0 s (got \(tierSeconds))")
        }
        guard stepsDone >= 0, minimumSteps >= 0, stepsDone <= Self.maximumSteps, minimumSteps <= Self.maximumSteps else {
            throw TrainingError.badConfig("step budget: step counts must be in 0…\(Self.maximumSteps) (done \(stepsDone), minimum \(minimumSteps))")
        }
        let usable = budget * (1 - min(max(safetyShare, 0), 0.5))
        let floor = max(minimumSteps, stepsDone)
        func steps(tier: Int) -> Int {
            let left = usable - elapsed - tierSeconds[tier]
            guard left > 0 else { return stepsDone }
            // Whole steps only, capped before the Double → Int conversion so it cannot trap.
            let more = min((left / secondsPerStep).rounded(.down), Double(Self.maximumSteps - stepsDone))
            return stepsDone + Int(more)
        }
        func predicted(_ total: Int, _ tier: Int) -> Double {
            elapsed + Double(total - stepsDone) * secondsPerStep + tierSeconds[tier]
        }
        for tier in tierSeconds.indices {
            let isLast = tier == tierSeconds.count - 1
            guard isLast || tierSeconds[tier] <= maxEvaluationShare * budget else { continue }
            let n = steps(tier: tier)
            // n is over the floor without fitting only when the steps already done overran: flag that too.
            if n >= floor { return Plan(steps: n, tier: tier, predictedSeconds: predicted(n, tier), overBudget: predicted(n, tier) > budget) }
        }
        let last = tierSeconds.count - 1
        let predictedMinimum = predicted(floor, last)
        return Plan(steps: floor, tier: last, predictedSeconds: predictedMinimum, overBudget: predictedMinimum > budget)
    }
}
