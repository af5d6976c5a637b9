// A reader of the protocol-buffers wire format (https://protobuf.dev/programming-guides/encoding/), just enough
// for sentencepiece_model.proto: varints, length-delimited fields (strings, bytes, sub-messages) and fixed32
// floats; fixed64 and unknown fields are skipped, groups are refused. Hand-written so that the package needs no
// generated code and every malformed byte becomes a TokenizerError instead of a trap.

/// One field of a protobuf message as it sits on the wire.
struct ProtobufField {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case lengthDelimited(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    var number: Int
    var value: Value
}

/// Walks the fields of one message, in file order. `fail` builds the error for the file being read, so the
/// message says which file and which part of it is broken.
struct ProtobufReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int
    private let context: String
    private let fail: (String) -> TokenizerError

    /// - Parameters:
    ///   - bytes: the encoded message (a slice keeps the parent's indices; errors report offsets in the file).
    ///   - context: what the message is (`"ModelProto"`, `"ModelProto.pieces[3]"`) for error messages.
    init(_ bytes: ArraySlice<UInt8>, context: String, fail: @escaping (String) -> TokenizerError) {
        self.bytes = bytes
        self.position = bytes.startIndex
        self.context = context
        self.fail = fail
    }

    /// The next field, or nil at the end of the message.
    mutating func next() throws(TokenizerError) -> ProtobufField? {
        guard position < bytes.endIndex else { return nil }
        let keyOffset = position
        let key = try readVarint(what: "field key")
        let wireType = Int(key & 7)
        let number = key >> 3
        guard number >= 1, number <= 536_870_911 else {
            throw fail("\(context): invalid field number \(number) at byte \(keyOffset)")
        }
        switch wireType {
        case 0:
            return ProtobufField(number: Int(number), value: .varint(try readVarint(what: "field \(number)")))
        case 1:
            return ProtobufField(number: Int(number), value: .fixed64(try readFixed(8, field: number)))
        case 2:
            let length = try readVarint(what: "length of field \(number)")
            guard length <= UInt64(bytes.endIndex - position) else {
                throw fail("\(context): field \(number) declares \(length) bytes at byte \(keyOffset) but only "
                    + "\(bytes.endIndex - position) remain (truncated file?)")
            }
            let end = position + Int(length)
            let slice = bytes[position..<end]
            position = end
            return ProtobufField(number: Int(number), value: .lengthDelimited(slice))
        case 5:
            return ProtobufField(number: Int(number), value: .fixed32(UInt32(try readFixed(4, field: number))))
        default:
            throw fail("\(context): field \(number) at byte \(keyOffset) has wire type \(wireType), which "
                + "sentencepiece_model.proto never uses (groups or corrupt data)")
        }
    }

    private mutating func readVarint(what: String) throws(TokenizerError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < bytes.endIndex else {
                throw fail("\(context): \(what) at byte \(start) is cut off (truncated file?)")
            }
            let byte = bytes[position]
            position += 1
            // The tenth byte may only carry the top bit of a 64-bit value.
            if shift == 63, byte > 1 {
                throw fail("\(context): \(what) at byte \(start) is a varint longer than 64 bits")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    private mutating func readFixed(_ count: Int, field: UInt64) throws(TokenizerError) -> UInt64 {
        guard bytes.endIndex - position >= count else {
            throw fail("\(context): field \(field) needs \(count) bytes at byte \(position) but only "
                + "\(bytes.endIndex - position) remain (truncated file?)")
        }
        var value: UInt64 = 0
        for i in 0..<count { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += count
        return value
    }
}

extension ProtobufField {
    /// A proto2 `int32`: negative values are written as 10-byte varints whose low 32 bits are the two's
    /// complement, as protobuf's own parser reads them.
    func int32(context: String, fail: (String) -> TokenizerError) throws(TokenizerError) -> Int32 {
        guard case .varint(let raw) = value else { throw fail("\(context): field \(number) is not a varint") }
        return Int32(truncatingIfNeeded: raw)
    }

    func bool(context: String, fail: (String) -> TokenizerError) throws(TokenizerError) -> Bool {
        guard case .varint(let raw) = value else { throw fail("\(context): field \(number) is not a varint") }
        return raw != 0
    }

    func float(context: String, fail: (String) -> TokenizerError) throws(TokenizerError) -> Float {
        guard case .fixed32(let raw) = value else { throw fail("\(context): field \(number) is not a fixed32 float") }
        return Float(bitPattern: raw)
    }

    func bytes(context: String, fail: (String) -> TokenizerError) throws(TokenizerError) -> ArraySlice<UInt8> {
        guard case .lengthDelimited(let slice) = value else {
            throw fail("\(context): field \(number) is not length-delimited")
        }
        return slice
    }

    /// A proto `string`: must be valid UTF-8, as protobuf's parser demands.
    func string(context: String, fail: (String) -> TokenizerError) throws(TokenizerError) -> String {
        let slice = try bytes(context: context, fail: fail)
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw fail("\(context): field \(number) is not valid UTF-8")
        }
        return text
    }
}
