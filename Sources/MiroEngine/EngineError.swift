import CTorch

/// An error raised by libtorch: a C++ exception the shim caught, with its category. The message
/// is libtorch's own, which names the shapes or dtypes involved.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure it was, so callers can react to some (retry with a smaller batch on
    /// `.outOfMemory`, fall back to the CPU on `.device`) and report the rest.
    public enum Category: Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Shapes, sizes, dimensions or indices that do not fit (c10::IndexError, c10::ValueError,
        /// and libtorch's shape checks).
        case shape
        /// An element type that does not match or is not supported (c10::TypeError, dtype checks).
        case dtype
        /// A host or device allocation failed.
        case outOfMemory
        /// A CUDA failure, a device that does not exist, or tensors on different devices.
        case device
        /// Anything else: autograd misuse, a broken invariant of the engine, or an error made by
        /// code outside the shim without a category.
        case `internal`

        public var description: String {
            switch self {
            case .shape: "shape"
            case .dtype: "dtype"
            case .outOfMemory: "out of memory"
            case .device: "device"
            case .internal: "internal"
            }
        }

        /// The category of a shim status; nil for MT_OK.
        init?(status: mt_status) {
            switch Int(status) {
            case MT_OK: return nil
            case MT_ERR_SHAPE: self = .shape
            case MT_ERR_DTYPE: self = .dtype
            case MT_ERR_OUT_OF_MEMORY: self = .outOfMemory
            case MT_ERR_DEVICE: self = .device
            default: self = .internal
            }
        }
    }

    public let operation: String
    public let message: String
    public let category: Category

    /// Other modules report their own failures this way; such errors are `.internal`.
    public init(_ operation: String, _ message: String) {
        self.init(operation, message, category: .internal)
    }

    public init(_ operation: String, _ message: String, category: Category) {
        self.operation = operation
        self.message = message
        self.category = category
    }

    public var description: String { "\(operation): \(message)" }

    /// The error the shim left on this thread after a failed call.
    static func last(_ operation: String) -> EngineError {
        let text = String(cString: mt_last_error())
        return EngineError(operation, text.isEmpty ? "libtorch reported a failure" : text,
                           category: Category(status: mt_last_status()) ?? .internal)
    }
}

/// A bad argument caught by MiroEngine's own checks, before libtorch was called (an element count
/// that does not fill a shape, a non-positive attention scale, ...).
public struct ArgumentError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let message: String

    public init(_ operation: String, _ message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }
}

/// Throws the shim's error when a status is not MT_OK.
@inline(__always)
func check(_ status: mt_status, _ operation: String) throws {
    if Int(status) != MT_OK { throw EngineError.last(operation) }
}

/// For facts that cannot fail on a live handle (rank, dtype, ...), read by non-throwing
/// properties: a failure means the engine itself is broken, so it stops with the shim's message
/// instead of returning a made-up value.
@inline(__always)
func expectSuccess(_ status: mt_status, _ operation: String) {
    if Int(status) != MT_OK {
        let error = EngineError.last(operation)
        preconditionFailure("\(error) [\(error.category)]")
    }
}
