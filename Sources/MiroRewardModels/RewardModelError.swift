/// Errors of the neural reward models (loading their files, checking their inputs), each naming the file, the
/// field and the value a user has to fix.
public enum RewardModelError: Error, Equatable, CustomStringConvertible {
    /// A file (weights, config, tokenizer) that is missing, unreadable or inconsistent.
    case file(path: String, reason: String)
    /// An input (images, captions, options) the model cannot score.
    case input(String)

    public var description: String {
        switch self {
        case .file(let path, let reason): return "\(path): \(reason)"
        case .input(let reason): return reason
        }
    }
}
