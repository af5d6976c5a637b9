// Port of the errors miro/pipeline.py (miro-t2i 0.1.4) raises while loading a checkpoint folder (method §9).

import Foundation

/// Problems with an official checkpoint folder or with what is asked of it. Messages name the folder,
/// file, field or value; a state-dict mismatch is a `StateDictError` (MiroNN) with the full report.
public enum ReleaseError: Error, CustomStringConvertible, Sendable, Equatable {
    /// `FileNotFoundError(f"Missing {name} in {base}")`, as `MiroPipeline.from_pretrained` words it.
    case missingFile(name: String, base: String, hint: String?)
    case notAFolder(String)
    case badConfig(field: String, message: String)
    case badFile(path: String, message: String)
    case unsupported(String)
    case destinationExists(String)
    /// `--overwrite` of a folder that is not a previous export, or that holds the source being exported.
    case refusedOverwrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let name, let base, let hint):
            "Missing \(name) in \(base)" + (hint.map { " (\($0))" } ?? "")
        case .notAFolder(let path): "\(path) does not exist or is not a directory"
        case .badConfig(let field, let message): "config.json: \(field): \(message)"
        case .badFile(let path, let message): "\(path): \(message)"
        case .unsupported(let message): "not supported: \(message)"
        case .destinationExists(let path): "\(path) already exists and is not empty (overwrite it with --overwrite / overwrite: true)"
        case .refusedOverwrite(let path, let reason): "refusing to overwrite \(path): \(reason)"
        }
    }
}
