/// Every problem MiroTokenizers reports about a tokenizer file or its input.
///
/// Each case names the file (or `"<memory>"`) and a sentence naming the offending field and value, so a user who
/// sees only `description` knows which file is wrong and how.
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be read.
    case io(path: String, message: String)
    /// The file is not a tokenizer of a supported kind, or one of its fields is malformed.
    case invalidFile(path: String, message: String)
    /// A well-formed file uses a feature this reader deliberately does not handle.
    case unsupported(path: String, message: String)
    /// An encode argument is out of range (e.g. `maxLength` 0).
    case invalidArgument(message: String)

    public var description: String {
        switch self {
        case .io(let path, let message), .invalidFile(let path, let message), .unsupported(let path, let message):
            return "\(path): \(message)"
        case .invalidArgument(let message):
            return "invalid tokenizer argument: \(message)"
        }
    }
}
