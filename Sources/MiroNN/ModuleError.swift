/// A module tree that cannot be used as it is.
public enum ModuleError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A tensor assigned to the parameter at `key` cannot be a trainable leaf.
    case invalidParameter(key: String, reason: String)
    /// A layer cannot be built or run with these sizes or parts (`layer` names it).
    case invalidLayer(layer: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidParameter(key, reason): "parameter '\(key)' cannot be trained: \(reason)"
        case let .invalidLayer(layer, reason): "\(layer): \(reason)"
        }
    }
}
