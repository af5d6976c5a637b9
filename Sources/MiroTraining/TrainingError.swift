/// A training run cannot start or continue; the message names the setting, file or step.
public enum TrainingError: Error, CustomStringConvertible {
    case badConfig(String)
    case nonFiniteLoss(step: Int, count: Int)
    case missingCheckpoint(String)

    public var description: String {
        switch self {
        case .badConfig(let m): m
        case .nonFiniteLoss(let step, let count): "training stopped at step \(step): \(count) consecutive non-finite losses"
        case .missingCheckpoint(let m): m
        }
    }
}
