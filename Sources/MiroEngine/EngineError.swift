import CTorch

/// An error raised by libtorch (a C++ exception caught in the shim) or by argument checks on the
/// Swift side. The message is libtorch's own, which names the shapes or dtypes involved.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let message: String

    public init(_ operation: String, _ message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }

    /// The error the shim left on this thread after a failed call.
    static func last(_ operation: String) -> EngineError {
        let text = String(cString: mt_last_error())
        return EngineError(operation, text.isEmpty ? "libtorch reported a failure" : text)
    }
}

/// Throws the shim's error when a status code is non-zero.
@inline(__always)
func check(_ status: Int32, _ operation: String) throws {
    if status != 0 { throw EngineError.last(operation) }
}
