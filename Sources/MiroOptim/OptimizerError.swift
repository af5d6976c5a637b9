/// Misuse of an optimizer or EMA, or state that does not fit it. (Failures inside libtorch stay
/// `EngineError`s.)
public enum OptimizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The same parameter name is listed twice (in one group or across groups).
    case duplicateParameter(String)
    /// A learning rate, weight decay, beta, epsilon or EMA decay out of range.
    case invalidHyperparameters(optimizer: String, reason: String)
    /// `bind(to:)`: the module declares no parameter with a group's name.
    case unknownParameter(String)
    /// `bind(to:)`: the module's parameter has another shape than the group's tensor.
    case parameterShapeMismatch(String, group: [Int], module: [Int])
    /// An unbound optimizer holds a tensor that its module has since replaced (`Module.to`), so
    /// stepping it would update a tensor nobody reads.
    case staleParameter(String)
    /// Saved state has some but not all of `<name>.exp_avg`, `<name>.exp_avg_sq`, `<name>.step`.
    case incompleteState(parameter: String, missing: [String])
    /// Saved or kept moments whose shape is not the parameter's.
    case stateShapeMismatch(parameter: String, state: [Int], parameterShape: [Int])
    /// EMA: the model has no trainable parameter for a shadow weight.
    case emaParameterMissing(String)
    /// EMA: weights to load or apply lack some keys of the model.
    case emaWeightsMissing(source: String, keys: [String])
    /// EMA: a saved weight has another shape than the model's.
    case emaShapeMismatch(String, saved: [Int], model: [Int])

    public var description: String {
        switch self {
        case let .duplicateParameter(name):
            "optimizer: parameter '\(name)' appears more than once across the parameter groups"
        case let .invalidHyperparameters(optimizer, reason):
            "\(optimizer): \(reason)"
        case let .unknownParameter(name):
            "optimizer: the module has no parameter '\(name)' (group names must be the module's dotted keys)"
        case let .parameterShapeMismatch(name, group, module):
            "optimizer: parameter '\(name)' has shape \(group) in the groups but \(module) in the module"
        case let .staleParameter(name):
            "optimizer: parameter '\(name)' was replaced in its module (Module.to) after the optimizer was built; "
                + "call bind(to: module) so the optimizer follows the module's parameters by name"
        case let .incompleteState(parameter, missing):
            "optimizer state: incomplete state for parameter '\(parameter)' (missing \(missing.joined(separator: ", ")))"
        case let .stateShapeMismatch(parameter, state, shape):
            "optimizer state: '\(parameter)' moments have shape \(state), parameter has \(shape)"
        case let .emaParameterMissing(name):
            "EMA: model has no trainable parameter '\(name)'"
        case let .emaWeightsMissing(source, keys):
            "\(source): EMA weights missing for \(keys.prefix(5).joined(separator: ", "))"
                + (keys.count > 5 ? " and \(keys.count - 5) more" : "")
        case let .emaShapeMismatch(name, saved, model):
            "EMA: EMA weight '\(name)' has shape \(saved), model has \(model)"
        }
    }
}
