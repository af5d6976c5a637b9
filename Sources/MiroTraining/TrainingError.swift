/// A training run cannot start or continue; the message names the setting, file or step.
public enum TrainingError: Error, CustomStringConvertible {
    case badConfig(String)
    case nonFiniteLoss(step: Int, count: Int)
    case missingCheckpoint(String)
    /// Consecutive non-finite losses: the run diverged; `lastCheckpoint` is the newest checkpoint left.
    case diverged(step: Int, count: Int, lastCheckpoint: String?)

    public var description: String {
        switch self {
        case .badConfig(let m): m
        case .nonFiniteLoss(let step, let count): "training stopped at step \(step): \(count) consecutive non-finite losses"
        case .missingCheckpoint(let m): m
        case .diverged(let step, let count, let last):
            "training stopped at step \(step): \(count) consecutive non-finite losses (diverged; try a lower --lr). "
                + (last.map { "The last checkpoint saved before it is \($0)." } ?? "No checkpoint was saved before it.")
        }
    }
}
