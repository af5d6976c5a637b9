import Foundation

/// A restricted unpickler for the `data.pkl` of PyTorch checkpoints: a pickle VM (CPython `Lib/pickle.py`'s
/// opcodes, protocols 2–5 as `torch.save` writes them) that only *builds values*. Python's unpickler imports and
/// calls any global a pickle names, which is how a `.pt` file runs code; here a global is looked up in a fixed
/// table of what a state dict needs (``PickleGlobal``) and anything else — `os.system`, `builtins.eval`, a model
/// class — stops the read with an error naming it. Nothing is ever imported or executed: the allowed "calls"
/// (REDUCE) are interpreted by ``TorchCheckpoint``'s rules on plain values.
///
/// Limits protect against hostile input: every length is checked against the remaining bytes, integers must fit
/// 64 bits, and the stack, memo and nesting are bounded by the pickle's size.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes(Data)
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// An allowed global, not called yet.
    case global(PickleGlobal)
    /// A storage reference from a persistent id `('storage', torch.XStorage, key, location, numel)`.
    case storage(TorchStorageReference)
    /// The result of `torch._utils._rebuild_tensor_v2` (or `_rebuild_parameter` around it).
    case tensor(TorchTensorReference)

    /// The Python type name, for messages.
    var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let g): return "global \(g.qualifiedName)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// Lists and dicts are mutable and shared through the memo, as in Python, so they are reference types.
final class PickleList {
    var items: [PickleValue] = []
}

final class PickleDict {
    /// Insertion order kept (Python dicts and OrderedDicts both iterate in insertion order).
    private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var index: [PickleKey: Int] = [:]

    enum PickleKey: Hashable { case string(String), int(Int), bool(Bool), none }

    /// Sets `key` (str, int, bool or None: what state dicts use) as Python's `d[key] = value` does.
    func set(_ key: PickleValue, _ value: PickleValue) -> Bool {
        let hashed: PickleKey
        switch key {
        case .string(let s): hashed = .string(s)
        case .int(let i): hashed = .int(i)
        case .bool(let b): hashed = .bool(b)
        case .none: hashed = .none
        default: return false
        }
        if let at = index[hashed] {
            entries[at].value = value
        } else {
            index[hashed] = entries.count
            entries.append((key, value))
        }
        return true
    }
}

/// The only globals a pickle may name.
enum PickleGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case rebuildParameterWithState
    /// `torch._utils._rebuild_tensor_v3`: what torch ≥ 2.1 writes for dtypes without a legacy storage class
    /// (float8, uint16/32/64): an untyped storage reinterpreted with a `torch.<dtype>` argument.
    case rebuildTensorV3
    /// `torch.FloatStorage` etc.: the element type of a storage in a persistent id.
    case storageType(name: String, dtype: SafeTensorsDType)
    /// `torch.UntypedStorage`: bytes, typed later by `_rebuild_tensor_v3`.
    case untypedStorage
    /// `torch.float8_e4m3fn` etc., the dtype argument of `_rebuild_tensor_v3`.
    case dtype(name: String, dtype: SafeTensorsDType)

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .rebuildTensorV3: return "torch._utils._rebuild_tensor_v3"
        case .storageType(let name, _), .dtype(let name, _): return "torch.\(name)"
        case .untypedStorage: return "torch.UntypedStorage"
        }
    }

    static let storageTypes: [String: SafeTensorsDType] = [
        "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "DoubleStorage": .f64,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8, "ByteStorage": .u8,
        "BoolStorage": .bool, "ComplexFloatStorage": .c64,
    ]

    /// `torch.<name>` dtypes (with their aliases) that have a safetensors dtype.
    static let dtypes: [String: SafeTensorsDType] = [
        "float32": .f32, "float": .f32, "float16": .f16, "half": .f16, "bfloat16": .bf16, "float64": .f64,
        "double": .f64, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32, "int16": .i16, "short": .i16,
        "int8": .i8, "uint8": .u8, "bool": .bool, "complex64": .c64, "cfloat": .c64, "uint16": .u16,
        "uint32": .u32, "uint64": .u64, "float8_e5m2": .f8E5M2, "float8_e4m3fn": .f8E4M3,
        "float8_e5m2fnuz": .f8E5M2FNUZ, "float8_e4m3fnuz": .f8E4M3FNUZ, "float8_e8m0fnu": .f8E8M0,
    ]

    /// The allowed global `module.name`, or nil.
    static func resolve(module: String, name: String) -> PickleGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch._utils", "_rebuild_tensor_v3"): return .rebuildTensorV3
        case ("torch", "UntypedStorage"), ("torch.storage", "UntypedStorage"): return .untypedStorage
        case ("torch", _):
            if let dtype = storageTypes[name] { return .storageType(name: name, dtype: dtype) }
            return dtypes[name].map { .dtype(name: name, dtype: $0) }
        default: return nil
        }
    }

    static var allowedList: String {
        (["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
          "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch.UntypedStorage"]
         + storageTypes.keys.sorted().map { "torch.\($0)" }).joined(separator: ", ") + " and the torch dtypes"
    }
}

/// Runs the VM over `bytes`. `persistentLoad` turns a BINPERSID id into a value and `reduce` interprets a call
/// of an allowed global; both may throw to refuse.
struct PickleMachine {
    let path: String
    let persistentLoad: (PickleValue) throws -> PickleValue
    let reduce: (PickleGlobal, [PickleValue]) throws -> PickleValue
    /// BUILD on a value: `build(object, state)`; returns nothing (state is either accepted and dropped, or refused).
    let build: (PickleValue, PickleValue) throws -> Void

    func load(_ bytes: Data) throws -> PickleValue {
        let b = [UInt8](bytes)
        var pos = 0
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]

        func fail(_ message: String) -> FormatError {
            .invalidHeader(path: path, message: "data.pkl at byte \(pos): \(message)")
        }
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= b.count - pos else {
                throw FormatError.truncated(path: path, message: "data.pkl ends inside an opcode's argument (needs \(n) bytes at byte \(pos) of \(b.count))")
            }
            defer { pos += n }
            return b[pos ..< pos + n]
        }
        func uint(_ n: Int) throws -> UInt64 {
            try take(n).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
        func length(_ n: Int) throws -> Int {
            let v = try uint(n)
            guard v <= UInt64(b.count - pos) else {
                throw FormatError.truncated(path: path, message: "data.pkl announces \(v) bytes at byte \(pos) but only \(b.count - pos) remain")
            }
            return Int(v)
        }
        func line() throws -> String {
            guard let end = b[pos...].firstIndex(of: 0x0A) else { throw fail("GLOBAL without a newline") }
            defer { pos = end + 1 }
            guard let s = String(bytes: b[pos..<end], encoding: .utf8) else { throw fail("GLOBAL name is not UTF-8") }
            return s
        }
        func pop() throws -> PickleValue {
            guard let v = stack.popLast() else { throw fail("stack underflow") }
            return v
        }
        func popMark() throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK on the stack") }
            let items = Array(stack[m...])
            stack.removeSubrange(m...)
            return items
        }
        func string(_ n: Int) throws -> PickleValue {
            guard let s = String(bytes: try take(n), encoding: .utf8) else { throw fail("string is not UTF-8") }
            return .string(s)
        }
        func global(_ module: String, _ name: String) throws -> PickleValue {
            guard let g = PickleGlobal.resolve(module: module, name: name) else {
                throw FormatError.unsupported(
                    path: path, message: "the checkpoint's pickle refers to the global '\(module).\(name)', which the restricted unpickler refuses (nothing was executed; allowed: \(PickleGlobal.allowedList))")
            }
            return .global(g)
        }
        func setItems(_ pairs: [PickleValue], into target: PickleValue) throws {
            guard case .dict(let dict) = target else { throw fail("SETITEM(S) on a \(target.typeName)") }
            guard pairs.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
            for i in stride(from: 0, to: pairs.count, by: 2) {
                guard dict.set(pairs[i], pairs[i + 1]) else { throw fail("a dictionary key of type \(pairs[i].typeName)") }
            }
        }
        func append(_ items: [PickleValue], to target: PickleValue) throws {
            guard case .list(let list) = target else { throw fail("APPEND(S) on a \(target.typeName)") }
            list.items += items
        }
        func top() throws -> PickleValue {
            guard let v = stack.last else { throw fail("stack underflow") }
            return v
        }

        while pos < b.count {
            let op = b[pos]
            pos += 1
            switch op {
            case 0x80:  // PROTO
                let version = try uint(1)
                guard version <= 5 else { throw fail("pickle protocol \(version) is not supported") }
            case 0x95: _ = try uint(8)  // FRAME: a length hint only
            case 0x2E:  // STOP
                guard stack.count == 1, marks.isEmpty else { throw fail("STOP with \(stack.count) values on the stack") }
                return stack[0]
            case 0x28: marks.append(stack.count)  // MARK
            case 0x7D: stack.append(.dict(PickleDict()))  // EMPTY_DICT
            case 0x5D: stack.append(.list(PickleList()))  // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))  // TUPLE1
            case 0x86: let y = try pop(), x = try pop(); stack.append(.tuple([x, y]))  // TUPLE2
            case 0x87: let z = try pop(), y = try pop(), x = try pop(); stack.append(.tuple([x, y, z]))  // TUPLE3
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4B: stack.append(.int(Int(try uint(1))))  // BININT1
            case 0x4D: stack.append(.int(Int(try uint(2))))  // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
            case 0x8A, 0x8B:  // LONG1, LONG4: little-endian two's complement
                let n = op == 0x8A ? try length(1) : try length(4)
                let digits = try take(n)
                guard n <= 8 else { throw fail("an integer of \(n) bytes does not fit 64 bits") }
                var v: UInt64 = 0
                for (i, byte) in digits.enumerated() { v |= UInt64(byte) << (8 * UInt64(i)) }
                if n > 0, n < 8, (digits.last ?? 0) & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }
                stack.append(.int(Int(Int64(bitPattern: v))))
            case 0x47: stack.append(.float(Double(bitPattern: try uint(8).byteSwapped)))  // BINFLOAT, big-endian
            case 0x58: stack.append(try string(try length(4)))  // BINUNICODE
            case 0x8C: stack.append(try string(try length(1)))  // SHORT_BINUNICODE
            case 0x8D: stack.append(try string(try length(8)))  // BINUNICODE8
            case 0x42: stack.append(.bytes(Data(try take(try length(4)))))  // BINBYTES
            case 0x43: stack.append(.bytes(Data(try take(try length(1)))))  // SHORT_BINBYTES
            case 0x8E: stack.append(.bytes(Data(try take(try length(8)))))  // BINBYTES8
            case 0x71: memo[Int(try uint(1))] = try top()  // BINPUT
            case 0x72: memo[Int(try uint(4))] = try top()  // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let key = Int(try uint(op == 0x68 ? 1 : 4))
                guard let v = memo[key] else { throw fail("memo key \(key) was never stored") }
                stack.append(v)
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32: stack.append(try top())  // DUP
            case 0x73: let v = try pop(), k = try pop(); try setItems([k, v], into: try top())  // SETITEM
            case 0x75: let items = try popMark(); try setItems(items, into: try top())  // SETITEMS
            case 0x61: let v = try pop(); try append([v], to: try top())  // APPEND
            case 0x65: let items = try popMark(); try append(items, to: try top())  // APPENDS
            case 0x63: let module = try line(); stack.append(try global(module, try line()))  // GLOBAL
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .string(let m) = module, case .string(let n) = name else { throw fail("STACK_GLOBAL needs two strings") }
                stack.append(try global(m, n))
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                guard case .global(let g) = callable else { throw fail("REDUCE calls a \(callable.typeName), not an allowed global") }
                guard case .tuple(let a) = args else { throw fail("REDUCE arguments are a \(args.typeName), not a tuple") }
                stack.append(try reduce(g, a))
            case 0x62: let state = try pop(); try build(try top(), state)  // BUILD
            case 0x51: stack.append(try persistentLoad(try pop()))  // BINPERSID
            default:
                throw fail(String(format: "opcode 0x%02X is not one the restricted unpickler accepts (torch.save never writes it)", op))
            }
        }
        throw FormatError.truncated(path: path, message: "data.pkl ends without a STOP opcode")
    }
}
