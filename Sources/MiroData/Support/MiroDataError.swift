/// Errors of the MiroData module, each with a sentence a user can act on.
public enum MiroDataError: Error, Equatable, CustomStringConvertible {
    /// Two inputs that must correspond one to one (images and captions, ...) have different lengths.
    case countMismatch(what: String, expected: Int, got: Int)
    /// A PNG file or stream is malformed or uses a feature the minimal reader does not support.
    case png(String)
    /// An argument is out of its valid range.
    case invalidArgument(String)
    /// Writing a file failed.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .countMismatch(let what, let expected, let got):
            return "\(what): expected \(expected) to match, got \(got)"
        case .png(let message): return "PNG: \(message)"
        case .invalidArgument(let message): return message
        case .io(let path, let reason): return "\(path): \(reason)"
        }
    }
}
