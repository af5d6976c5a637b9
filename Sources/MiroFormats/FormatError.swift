import Foundation

/// Every problem MiroFormats reports about a file, a buffer or a writer's input.
///
/// Each case carries the path (or `"<memory>"` for in-memory buffers) and a sentence that names the
/// offending field and value, so a user who sees only `error.description` knows which file to fix and how.
/// Cases are coarse on purpose: callers branch on the *kind* of failure, humans read the message.
public enum FormatError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened, read, created or renamed.
    case io(path: String, message: String)
    /// The file ends before a structure it announces (header, length prefix, tensor data).
    case truncated(path: String, message: String)
    /// The header (safetensors JSON, `.npy` dict, index JSON) is malformed or has the wrong structure.
    case invalidHeader(path: String, message: String)
    /// One tensor's declared dtype, shape or offsets are inconsistent.
    case invalidTensor(path: String, tensor: String, message: String)
    /// The byte buffer is not tiled exactly by the tensors (holes, overlaps, extra or missing bytes).
    case invalidLayout(path: String, message: String)
    /// A well-formed file uses a feature MiroFormats deliberately does not handle (big-endian, Fortran order, …).
    case unsupported(path: String, message: String)
    /// A tensor was requested by a name the file does not contain.
    case tensorNotFound(path: String, name: String)
    /// Data handed to a writer is inconsistent (byte count vs. shape, duplicate names, …).
    case invalidArgument(path: String, message: String)

    /// The path the error refers to.
    public var path: String {
        switch self {
        case .io(let path, _), .truncated(let path, _), .invalidHeader(let path, _),
             .invalidTensor(let path, _, _), .invalidLayout(let path, _), .unsupported(let path, _),
             .tensorNotFound(let path, _), .invalidArgument(let path, _):
            return path
        }
    }

    /// `"<path>: <problem>"`, the form shown to users.
    public var description: String {
        switch self {
        case .io(let path, let message), .truncated(let path, let message),
             .invalidHeader(let path, let message), .invalidLayout(let path, let message),
             .unsupported(let path, let message), .invalidArgument(let path, let message):
            return "\(path): \(message)"
        case .invalidTensor(let path, let tensor, let message):
            return "\(path): tensor '\(tensor)' \(message)"
        case .tensorNotFound(let path, let name):
            return "\(path): no tensor named '\(name)'"
        }
    }
}

extension FormatError: LocalizedError {
    public var errorDescription: String? { description }
}

/// The file-system path of `url` (or its string form for non-file URLs), as it appears in error messages.
func displayPath(_ url: URL) -> String {
    url.isFileURL ? url.path : url.absoluteString
}

/// A file's bytes, memory-mapped so that tensor data is paged in only when used; a failure is a
/// `FormatError.io` naming the file.
func mappedContents(of url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        throw FormatError.io(path: displayPath(url), message: "cannot read file (\(error.localizedDescription))")
    }
}
