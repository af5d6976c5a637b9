/// One sentence for a `DecodingError` from reading a JSON config file, naming the dotted field
/// (`'text_config.hidden_size'`) and what was wrong with it, for errors that a user fixes in the file.

import Foundation

extension DecodingError {
    /// "field 'a.b' must be Int: …", "missing field 'x' in the top level", "not valid JSON (…)".
    public var configFieldDescription: String {
        func field(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "the top level" : "'" + path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") + "'"
        }
        switch self {
        case .typeMismatch(let type, let context):
            return "field \(field(context.codingPath)) must be \(type): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "field \(field(context.codingPath)) must be \(type), found null"
        case .keyNotFound(let key, let context):
            return "missing field '\(key.stringValue)' in \(field(context.codingPath))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? "not valid JSON (\(context.underlyingError.map { "\($0)" } ?? context.debugDescription))"
                : "field \(field(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(self)"
        }
    }
}
