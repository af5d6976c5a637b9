/// Errors of the MiroImage module, each with a sentence a user can act on.
public enum ImageError: Error, Equatable, CustomStringConvertible {
    /// A PNG file or stream is malformed or uses a feature the reader does not support.
    case png(String)
    /// An argument is out of its valid range.
    case invalidArgument(String)
    /// Writing a file failed.
    case io(path: String, reason: String)
    /// An image file (JPEG, PNG, …) could not be decoded: truncated, corrupt or of an unsupported kind.
    case decode(file: String, message: String)

    public var description: String {
        switch self {
        case .png(let message): return "PNG: \(message)"
        case .invalidArgument(let message): return message
        case .io(let path, let reason): return "\(path): \(reason)"
        case .decode(let file, let message): return "\(file): \(message)"
        }
    }
}
