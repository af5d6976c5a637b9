/// Errors of `miro annotate` and `miro prepare`, each naming the input (shard, folder, sample) and what is wrong.
public enum DataPrepError: Error, Equatable, CustomStringConvertible {
    case input(path: String, reason: String)
    case output(path: String, reason: String)

    public var description: String {
        switch self {
        case .input(let path, let reason): return "\(path): \(reason)"
        case .output(let path, let reason): return "output \(path): \(reason)"
        }
    }
}
