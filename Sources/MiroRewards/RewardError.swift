/// Errors of reward scoring, each with a sentence a user can act on.
public enum RewardError: Error, Equatable, CustomStringConvertible {
    /// Two inputs that must correspond one to one (images and captions, ...) have different lengths.
    case countMismatch(what: String, expected: Int, got: Int)

    public var description: String {
        switch self {
        case .countMismatch(let what, let expected, let got):
            return "\(what): expected \(expected) to match, got \(got)"
        }
    }
}
