import CTorch
import Foundation

/// An n-dimensional array backed by a libtorch `at::Tensor`, with autograd.
///
/// Lifetime: the class owns one heap handle and frees it in `deinit`. Swift may end an object's
/// lifetime right after its last *Swift* use, which can come before a C call that still reads
/// the handle (release builds crashed this way, see docs/engine.md). So the handle is private to
/// this file and the only way to reach it is `withHandle` / `withHandles` (Handles.swift), which
/// keep every tensor involved alive until the C call has returned.
public final class Tensor: @unchecked Sendable {
    private let handle: OpaquePointer

    init(owning handle: OpaquePointer) { self.handle = handle }

    deinit { mt_free(handle) }

    /// Runs `body` with the raw handle while `self` is guaranteed alive. `body` must not let the
    /// handle escape.
    @inline(__always)
    func withHandle<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(handle) }
    }

    /// Wraps a handle returned by the shim, or throws the shim's error when it is NULL.
    @inline(__always)
    static func wrap(_ operation: String, _ result: OpaquePointer?) throws -> Tensor {
        guard let result else { throw EngineError.last(operation) }
        return Tensor(owning: result)
    }

    /// Reads one fact through a status-returning accessor; see `expectSuccess`.
    private func fact<T>(_ operation: String, _ initial: T, _ read: (OpaquePointer, UnsafeMutablePointer<T>) -> mt_status) -> T {
        var value = initial
        let status = withHandle { read($0, &value) }
        expectSuccess(status, operation)
        return value
    }

    // MARK: Facts

    public var rank: Int { Int(fact("dim", Int32(0)) { mt_dim($0, $1) }) }
    public var shape: [Int] { (0..<rank).map { d in Int(fact("size", Int64(0)) { mt_size($0, Int32(d), $1) }) } }
    public var count: Int { Int(fact("numel", Int64(0)) { mt_numel($0, $1) }) }
    public var isContiguous: Bool { fact("is_contiguous", false) { mt_is_contiguous($0, $1) } }
    var requiresGradFact: Bool { fact("requires_grad", false) { mt_requires_grad($0, $1) } }
    var isLeafFact: Bool { fact("is_leaf", false) { mt_is_leaf($0, $1) } }

    /// The element type. The shim hands out only tensors whose dtype has a `DType` case (it turns
    /// any other result into an error), so this cannot meet an unknown code.
    public var dtype: DType {
        do { return try elementType() } catch { preconditionFailure("\(error)") }
    }

    /// The element type, or a `.dtype` error if libtorch reports one `DType` cannot name.
    public func elementType() throws -> DType {
        var code: Int32 = 0
        try check(withHandle { mt_dtype($0, &code) }, "dtype")
        return try DType(code: code)
    }

    public var device: Device {
        var (type, index): (Int32, Int32) = (0, 0)
        expectSuccess(withHandle { mt_device($0, &type, &index) }, "device")
        return Int(type) == MT_CUDA ? .cuda(Int(index)) : .cpu
    }

    /// Size of one dimension; negative indices count from the end. A dimension out of range is an
    /// `EngineError` of category `.shape`.
    public func size(at dim: Int) throws -> Int {
        var value: Int64 = 0
        try check(withHandle { mt_size($0, Int32(clamping: dim), &value) }, "size")
        return Int(value)
    }

    /// Size of one dimension; negative indices count from the end. The dimension must exist
    /// (model code calls this on shapes it built); `size(at:)` throws instead, for user input.
    public func size(_ dim: Int) -> Int {
        do { return try size(at: dim) } catch { preconditionFailure("\(error) (shape \(shape))") }
    }

    /// True when both handles refer to the same tensor object (not merely equal values).
    public func isSame(as other: Tensor) -> Bool {
        var same = false
        expectSuccess(withHandles(self, other) { mt_same_storage($0, $1, &same) }, "same_storage")
        return same
    }

    // MARK: Creation

    public static func zeros(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        try filled(MT_FILL_ZEROS, shape, dtype, device)
    }

    public static func ones(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        try filled(MT_FILL_ONES, shape, dtype, device)
    }

    /// Uninitialised storage, for outputs that are fully overwritten.
    public static func empty(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        try filled(MT_FILL_EMPTY, shape, dtype, device)
    }

    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try wrap("full", mt_full(dims, Int32(dims.count), value, dtype.code, device.code))
    }

    /// A 0-dimensional tensor.
    public static func scalar(_ value: Double, dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        try full([], value, dtype: dtype, device: device)
    }

    /// `torch.arange(start, end, step)`.
    public static func arange(_ start: Double = 0, _ end: Double, step: Double = 1, dtype: DType = .float32,
                              device: Device = .cpu) throws -> Tensor {
        try wrap("arange", mt_arange(start, end, step, dtype.code, device.code))
    }

    public static func linspace(_ start: Double, _ end: Double, count: Int, dtype: DType = .float32,
                                device: Device = .cpu) throws -> Tensor {
        try wrap("linspace", mt_linspace(start, end, Int64(count), dtype.code, device.code))
    }

    /// Copies a Swift array into a new CPU tensor of the given shape (C order).
    public convenience init<T: TensorElement>(_ values: [T], shape: [Int]) throws {
        let n = shape.reduce(1, *)
        guard n == values.count else {
            throw ArgumentError("Tensor(_:shape:)", "\(values.count) values do not fill shape \(shape) (\(n) elements)")
        }
        let dims = shape.map(Int64.init)
        let h = values.withUnsafeBytes { buf in mt_from_data(buf.baseAddress, dims, Int32(dims.count), T.dtype.code) }
        guard let h else { throw EngineError.last("Tensor(_:shape:)") }
        self.init(owning: h)
    }

    /// A 1-D tensor of the values.
    public convenience init<T: TensorElement>(_ values: [T]) throws {
        try self.init(values, shape: [values.count])
    }

    /// Copies raw C-order bytes of `dtype` into a new CPU tensor.
    public convenience init(bytes: UnsafeRawBufferPointer, shape: [Int], dtype: DType) throws {
        let n = shape.reduce(1, *)
        guard bytes.count == n * dtype.byteSize else {
            throw ArgumentError("Tensor(bytes:)", "\(bytes.count) bytes do not hold \(dtype) × \(shape) (\(n * dtype.byteSize) bytes)")
        }
        let dims = shape.map(Int64.init)
        guard let h = mt_from_data(bytes.baseAddress, dims, Int32(dims.count), dtype.code) else {
            throw EngineError.last("Tensor(bytes:)")
        }
        self.init(owning: h)
    }

    /// Wraps memory without copying. `owner` is retained until libtorch releases the storage
    /// (e.g. the memory-mapped file a safetensors tensor lives in). The memory must stay valid
    /// and unmodified by others while any view of it exists.
    public convenience init(borrowing pointer: UnsafeRawPointer, shape: [Int], dtype: DType, owner: AnyObject) throws {
        let dims = shape.map(Int64.init)
        let context = Unmanaged.passRetained(owner).toOpaque()
        let h = mt_from_blob(UnsafeMutableRawPointer(mutating: pointer), dims, Int32(dims.count), dtype.code, context) {
            ctx in if let ctx { Unmanaged<AnyObject>.fromOpaque(ctx).release() }
        }
        guard let h else {
            Unmanaged<AnyObject>.fromOpaque(context).release()
            throw EngineError.last("Tensor(borrowing:)")
        }
        self.init(owning: h)
    }

    private static func filled(_ fill: Int, _ shape: [Int], _ dtype: DType, _ device: Device) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try wrap("new", mt_new(Int32(fill), dims, Int32(dims.count), dtype.code, device.code))
    }

    // MARK: Copy-out

    /// The elements in C order, converted to `T` (and moved to the CPU).
    public func toArray<T: TensorElement>(_ type: T.Type = T.self) throws -> [T] {
        let n = count
        var out = [T](unsafeUninitializedCapacity: n) { _, initialized in initialized = n }
        try out.withUnsafeMutableBytes { buf in
            try check(withHandle { mt_copy_out($0, T.dtype.code, buf.baseAddress, buf.count) }, "toArray")
        }
        return out
    }

    /// The raw bytes of the elements in C order, as `dtype`.
    public func bytes(as dtype: DType? = nil) throws -> [UInt8] {
        let dt = dtype ?? self.dtype
        var out = [UInt8](repeating: 0, count: count * dt.byteSize)
        try out.withUnsafeMutableBytes { buf in
            try check(withHandle { mt_copy_out($0, dt.code, buf.baseAddress, buf.count) }, "bytes")
        }
        return out
    }

    /// The single element of a one-element tensor.
    public func item() throws -> Double {
        var v = 0.0
        try check(withHandle { mt_item($0, &v) }, "item")
        return v
    }

    public func floats() throws -> [Float] { try toArray(Float.self) }
    public func doubles() throws -> [Double] { try toArray(Double.self) }
}

extension Tensor: CustomStringConvertible {
    /// `Tensor([2, 3], float32, cpu) [0.1, 0.2, …]`: the shape, dtype, device and the first values.
    public var description: String {
        var head = "Tensor(\(shape), \(dtype), \(device)"
        if requiresGradFact { head += ", requires_grad" }
        head += ")"
        let shown = min(count, 8)
        guard shown > 0, let flat = try? reshaped([-1]).slice(0, 0, shown).toArray(Double.self) else { return head }
        let values = flat.map { v -> String in
            if dtype == .bool { return v != 0 ? "true" : "false" }
            if !dtype.isFloatingPoint { return String(Int64(v)) }
            return String(format: "%.4g", v)
        }
        return head + " [" + values.joined(separator: ", ") + (count > shown ? ", …]" : "]")
    }
}
