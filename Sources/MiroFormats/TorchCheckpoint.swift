import Foundation

/// A storage named by a persistent id: `('storage', torch.FloatStorage, '0', 'cpu', numel)` in the pickle,
/// whose bytes are the zip entry `<folder>/data/<key>`.
struct TorchStorageReference {
    var key: String
    var dtype: SafeTensorsDType
    var elementCount: Int
}

/// `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
struct TorchTensorReference {
    var storage: TorchStorageReference
    var storageOffset: Int
    var shape: [Int]
    var strides: [Int]
}

/// The tensors of a PyTorch `.pt`/`.pth` checkpoint (the zip format `torch.save` has written since PyTorch 1.6),
/// read without Python and without executing anything.
///
/// Layout (torch `serialization.py`, `_save` / `_load`): one top folder (its name varies: the file's stem, or
/// `archive`) holding `data.pkl` (the pickled object, protocol 2), `data/<key>` (one raw little-endian entry per
/// storage), `byteorder` (`little`/`big`, absent before 1.13) and `version`. The pickle is run by
/// ``PickleMachine`` with only the globals a state dict needs; tensors are views `(storage, offset, shape,
/// strides)` and are materialised here as C-order bytes, so transposed/strided views and tensors sharing one
/// storage come out as independent contiguous tensors, exactly as `tensor.contiguous()` would give.
///
/// Nested dictionaries (`{"state_dict": {...}, "epoch": 3}`) are flattened with dotted names; values that are
/// not tensors or dictionaries (ints, strings, lists) are skipped and listed in ``notes``.
public struct TorchCheckpoint: Sendable {
    /// One tensor, contiguous.
    public struct Tensor: Sendable, Equatable {
        /// Dotted name (`state_dict.encoder.weight` when nested, unless a `key` selected the sub-dictionary).
        public var name: String
        public var dtype: SafeTensorsDType
        public var shape: [Int]
        /// The strides (in elements) of the view as stored; ``bytes`` is contiguous whatever they are.
        public var strides: [Int]
        /// The view's offset into its storage, in elements.
        public var storageOffset: Int
        /// The storage's key (`data/<key>`); tensors sharing a storage share a key.
        public var storageKey: String
        /// Little-endian C-order bytes. For a contiguous view this is a slice of the memory-mapped file (its
        /// indices start at `bytes.startIndex`, not 0); strided views are copied.
        public var bytes: Data
    }

    public let path: String
    /// Tensors in the pickle's (state-dict) order.
    public let tensors: [Tensor]
    /// One line per skipped non-tensor value (`skipped 'epoch' (int)`) and other remarks.
    public let notes: [String]

    /// The most bytes one materialised tensor may take (a stride-0 view could otherwise announce any size).
    public static let maxTensorBytes = 1 << 36

    /// Reads `url`; `key` selects one top-level entry (e.g. `state_dict`) whose dictionary becomes the root.
    public init(contentsOf url: URL, key: String? = nil) throws {
        try self.init(data: try mappedContents(of: url), path: displayPath(url), key: key)
    }

    public init(data: Data, path: String = "<memory>", key: String? = nil) throws {
        self.path = path
        // The legacy format (before 1.6, or `_use_new_zipfile_serialization=False`) is a bare pickle stream that
        // starts with a magic number; it keeps storages inside the pickle and is not read here.
        if data.count >= 2, data[data.startIndex] == 0x80, data[data.startIndex + 1] <= 5 {
            throw FormatError.unsupported(
                path: path, message: "this is a legacy (pre-1.6 torch.save) pickle file, not a zip checkpoint; re-save it with torch.save in PyTorch ≥ 1.6")
        }
        let zip = try StoredZipArchive(data: data, path: path)
        let pickles = zip.entries.filter { $0.name.hasSuffix("/data.pkl") && $0.name.dropLast(9).firstIndex(of: "/") == nil }
        guard pickles.count == 1, let pickle = pickles.first else {
            throw FormatError.invalidHeader(
                path: path, message: pickles.isEmpty
                    ? "no '<folder>/data.pkl' entry: not a torch.save zip checkpoint (legacy pre-1.6 .pt files and TorchScript archives are not supported)"
                    : "\(pickles.count) '<folder>/data.pkl' entries; expected one")
        }
        let folder = String(pickle.name.dropLast(8))
        if let order = zip.entry(named: folder + "byteorder") {
            let text = String(decoding: try zip.contents(of: order), as: UTF8.self)
            guard text == "little" else {
                throw FormatError.unsupported(path: path, message: "byteorder is '\(text)'; only little-endian checkpoints are supported")
            }
        }

        var storages: [String: Data] = [:]
        func storageBytes(_ ref: TorchStorageReference) throws -> Data {
            // Read (and CRC-checked) once per key; the size check runs for every view, whose dtype may differ.
            let bytes: Data
            if let cached = storages[ref.key] {
                bytes = cached
            } else {
                guard let entry = zip.entry(named: folder + "data/" + ref.key) else {
                    throw FormatError.invalidLayout(path: path, message: "storage '\(ref.key)' has no entry '\(folder)data/\(ref.key)'")
                }
                bytes = try zip.contents(of: entry)
                storages[ref.key] = bytes
            }
            let (needed, overflow) = ref.elementCount.multipliedReportingOverflow(by: ref.dtype.elementByteSize ?? 1)
            guard !overflow, bytes.count >= needed else {
                throw FormatError.invalidLayout(
                    path: path, message: "storage '\(ref.key)' holds \(bytes.count) bytes, fewer than its \(ref.elementCount) \(ref.dtype.rawValue) elements need")
            }
            return bytes
        }

        let machine = PickleMachine(
            path: path,
            persistentLoad: { try Self.persistentLoad($0, path: path) },
            reduce: { try Self.reduce($0, $1, path: path) },
            build: { object, _ in
                // An OrderedDict's state is its attributes (`_metadata` on nn.Module state dicts): dropped.
                guard case .dict = object else {
                    throw FormatError.invalidHeader(path: path, message: "data.pkl: BUILD on a \(object.typeName) is not supported")
                }
            })
        var root = try machine.load(try zip.contents(of: pickle))
        if let key {
            guard case .dict(let dict) = root else {
                throw FormatError.invalidArgument(path: path, message: "the checkpoint holds a \(root.typeName), not a dictionary with a key '\(key)'")
            }
            guard let selected = dict.entries.first(where: { if case .string(key) = $0.key { true } else { false } }) else {
                let keys = dict.entries.map { Self.keyString($0.key) }.joined(separator: ", ")
                throw FormatError.invalidArgument(path: path, message: "no top-level key '\(key)' (keys: \(keys))")
            }
            root = selected.value
        }

        var found: [(String, TorchTensorReference)] = []
        var notes: [String] = []
        try Self.flatten(root, name: "", depth: 0, into: &found, notes: &notes, path: path)
        guard !found.isEmpty else {
            throw FormatError.invalidArgument(path: path, message: "the checkpoint holds no tensors (\(root.typeName) at the top)")
        }
        var seen = Set<String>()
        var tensors: [Tensor] = []
        for (name, ref) in found {
            guard seen.insert(name).inserted else {
                throw FormatError.invalidArgument(path: path, message: "two tensors flatten to the name '\(name)'")
            }
            let bytes = try Self.materialise(ref, storage: try storageBytes(ref.storage), name: name, path: path)
            tensors.append(Tensor(name: name, dtype: ref.storage.dtype, shape: ref.shape, strides: ref.strides,
                                  storageOffset: ref.storageOffset, storageKey: ref.storage.key, bytes: bytes))
        }
        self.tensors = tensors
        self.notes = notes
    }

    /// The tensors as safetensors writer input.
    public var safeTensors: [SafeTensorsWriter.Tensor] {
        tensors.map { SafeTensorsWriter.Tensor(name: $0.name, dtype: $0.dtype, shape: $0.shape, bytes: $0.bytes) }
    }

    // MARK: - Pickle rules

    static func persistentLoad(_ id: PickleValue, path: String) throws -> PickleValue {
        guard case .tuple(let t) = id, t.count == 5, case .string("storage") = t[0], case .global(let type) = t[1],
              case .string(let key) = t[2], case .int(let numel) = t[4], numel >= 0 else {
            throw FormatError.invalidHeader(
                path: path, message: "data.pkl: a persistent id that is not ('storage', torch.<Type>Storage, key, location, numel)")
        }
        switch type {
        case .storageType(_, let dtype): return .storage(TorchStorageReference(key: key, dtype: dtype, elementCount: numel))
        // An untyped storage counts bytes; `_rebuild_tensor_v3` gives it its dtype.
        case .untypedStorage: return .storage(TorchStorageReference(key: key, dtype: .u8, elementCount: numel))
        default:
            throw FormatError.invalidHeader(path: path, message: "data.pkl: a persistent id names \(type.qualifiedName), not a storage type")
        }
    }

    static func reduce(_ global: PickleGlobal, _ args: [PickleValue], path: String) throws -> PickleValue {
        func bad(_ what: String) -> FormatError {
            .invalidHeader(path: path, message: "data.pkl: \(global.qualifiedName) called with \(what)")
        }
        func ints(_ v: PickleValue) -> [Int]? {
            guard case .tuple(let items) = v else { return nil }
            var out: [Int] = []
            for item in items {
                guard case .int(let i) = item, i >= 0 else { return nil }
                out.append(i)
            }
            return out
        }
        switch global {
        case .orderedDict:
            guard args.isEmpty else { throw bad("\(args.count) arguments (only OrderedDict() is supported)") }
            return .dict(PickleDict())
        case .rebuildTensorV2:
            guard (6...7).contains(args.count), case .storage(let storage) = args[0], case .int(let offset) = args[1],
                  offset >= 0, let shape = ints(args[2]), let strides = ints(args[3]), shape.count == strides.count else {
                throw bad("arguments that are not (storage, offset, size, stride, requires_grad, hooks[, metadata])")
            }
            return .tensor(TorchTensorReference(storage: storage, storageOffset: offset, shape: shape, strides: strides))
        case .rebuildTensorV3:
            guard (7...8).contains(args.count), case .storage(var storage) = args[0], case .int(let offset) = args[1],
                  offset >= 0, let shape = ints(args[2]), let strides = ints(args[3]), shape.count == strides.count,
                  case .global(.dtype(_, let dtype)) = args[6] else {
                throw bad("arguments that are not (storage, offset, size, stride, requires_grad, hooks, dtype[, metadata])")
            }
            if storage.dtype != dtype {
                // The storage's bytes, reinterpreted: only from bytes (an untyped or byte storage), as torch does.
                let size = dtype.elementByteSize ?? 1
                guard storage.dtype == .u8, storage.elementCount % size == 0 else {
                    throw bad("a \(storage.dtype.rawValue) storage of \(storage.elementCount) elements for dtype \(dtype.rawValue)")
                }
                storage = TorchStorageReference(key: storage.key, dtype: dtype, elementCount: storage.elementCount / size)
            }
            return .tensor(TorchTensorReference(storage: storage, storageOffset: offset, shape: shape, strides: strides))
        case .rebuildParameter, .rebuildParameterWithState:
            guard let first = args.first, case .tensor = first, args.count == (global == .rebuildParameter ? 3 : 4) else {
                throw bad("arguments that are not (tensor, requires_grad, hooks\(global == .rebuildParameter ? "" : ", state"))")
            }
            return first
        case .storageType, .untypedStorage, .dtype:
            throw bad("arguments: calling \(global.qualifiedName) is not supported")
        }
    }

    static func keyString(_ key: PickleValue) -> String {
        switch key {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "True" : "False"
        default: return "None"
        }
    }

    static func flatten(_ value: PickleValue, name: String, depth: Int, into found: inout [(String, TorchTensorReference)],
                        notes: inout [String], path: String) throws {
        guard depth < 64 else {
            throw FormatError.invalidArgument(path: path, message: "dictionaries nested more than 64 deep at '\(name)'")
        }
        switch value {
        case .tensor(let ref):
            found.append((name.isEmpty ? "tensor" : name, ref))
        case .dict(let dict):
            for (key, child) in dict.entries {
                let k = keyString(key)
                try flatten(child, name: name.isEmpty ? k : name + "." + k, depth: depth + 1, into: &found, notes: &notes, path: path)
            }
        default:
            notes.append("skipped '\(name)' (\(value.typeName))")
        }
    }

    // MARK: - Views

    /// The view's elements in C order. Bounds are checked first, so the copy below only reads inside `storage`.
    static func materialise(_ ref: TorchTensorReference, storage: Data, name: String, path: String) throws -> Data {
        let size = ref.storage.dtype.elementByteSize ?? 1
        func bad(_ message: String) -> FormatError { .invalidTensor(path: path, tensor: name, message: message) }
        guard let count = checkedElementCount(ref.shape) else { throw bad("has a shape \(shapeString(ref.shape)) that overflows") }
        let (total, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, total <= maxTensorBytes else { throw bad("would take more than \(maxTensorBytes) bytes") }
        if count == 0 { return Data() }
        var last = ref.storageOffset
        for (dim, stride) in zip(ref.shape, ref.strides) {
            let (step, o1) = (dim - 1).multipliedReportingOverflow(by: stride)
            let (sum, o2) = last.addingReportingOverflow(step)
            guard !o1, !o2 else { throw bad("has strides \(shapeString(ref.strides)) that overflow") }
            last = sum
        }
        guard last < ref.storage.elementCount else {
            throw bad("views elements up to \(last) of storage '\(ref.storage.key)', which holds \(ref.storage.elementCount)")
        }
        var contiguousStride = 1
        var contiguous = true
        for (dim, stride) in zip(ref.shape, ref.strides).reversed() {
            if dim != 1 && stride != contiguousStride { contiguous = false }
            contiguousStride *= dim
        }
        let start = storage.startIndex + ref.storageOffset * size
        // A contiguous view is a slice of the (memory-mapped) file: no copy, pages read only when written out.
        if contiguous { return storage[start ..< start + total] }

        var out = Data(count: total)
        let rank = ref.shape.count
        out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
            storage.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
                guard let to = dst.baseAddress, let from = src.baseAddress else { return }
                var index = [Int](repeating: 0, count: rank)
                var source = ref.storageOffset
                for element in 0..<count {
                    (to + element * size).copyMemory(from: from + source * size, byteCount: size)
                    // Odometer increment over the shape, last dimension fastest.
                    var d = rank - 1
                    while d >= 0 {
                        index[d] += 1
                        source += ref.strides[d]
                        if index[d] < ref.shape[d] { break }
                        source -= ref.strides[d] * ref.shape[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return out
    }
}
