// Port of the parts of sentencepiece_model.proto (sentencepiece 0.2.0) that encoding reads, and of the checks
// ModelInterface::InitializePieces (src/model_interface.cc) makes when a model is loaded.
import Foundation

/// The contents of a SentencePiece `spiece.model` (the protobuf `ModelProto`) that encoding needs.
public struct SentencePieceModelFile: Sendable {
    /// `ModelProto.SentencePiece.Type`.
    public enum PieceType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public struct Piece: Sendable, Equatable {
        public var piece: String
        public var score: Float
        public var type: PieceType

        public init(piece: String, score: Float, type: PieceType) {
            self.piece = piece
            self.score = score
            self.type = type
        }
    }

    public var pieces: [Piece] = []
    /// `TrainerSpec.model_type`: 1 unigram, 2 BPE, 3 word, 4 char.
    public var modelType: Int32 = 1
    public var unkID: Int32 = 0
    public var byteFallback = false
    public var treatWhitespaceAsSuffix = false
    /// `NormalizerSpec`.
    public var normalizerName = ""
    public var precompiledCharsmap: [UInt8] = []
    public var addDummyPrefix = true
    public var removeExtraWhitespaces = true
    public var escapeWhitespaces = true

    /// Reads and validates a serialized `ModelProto`. `path` only names the file in errors.
    public init(bytes: [UInt8], path: String) throws(TokenizerError) {
        let fail = { (message: String) in TokenizerError.invalidFile(path: path, message: message) }
        var reader = ProtobufReader(bytes[...], context: "ModelProto", fail: fail)
        var pieces: [Piece] = []  // kept local: self.pieces is assigned once, after the loop
        var sawTrainer = false
        while let field = try reader.next() {
            switch field.number {
            case 1:
                let context = "ModelProto.pieces[\(pieces.count)]"
                pieces.append(try Self.readPiece(field.bytes(context: context, fail: fail), context: context, fail: fail))
            case 2:
                sawTrainer = true
                try readTrainerSpec(field.bytes(context: "ModelProto.trainer_spec", fail: fail), fail: fail)
            case 3:
                try readNormalizerSpec(field.bytes(context: "ModelProto.normalizer_spec", fail: fail), fail: fail)
            default:
                continue  // self_test_data, denormalizer_spec and future fields play no part in encoding
            }
        }
        self.pieces = pieces
        guard !pieces.isEmpty else {
            throw fail("ModelProto has no pieces (an empty or truncated file, or not a SentencePiece model)")
        }
        guard sawTrainer else { throw fail("ModelProto has no trainer_spec (truncated file?)") }
        try validate(path: path)
    }

    private static func readPiece(_ bytes: ArraySlice<UInt8>, context: String,
                                  fail: @escaping (String) -> TokenizerError) throws(TokenizerError) -> Piece {
        var reader = ProtobufReader(bytes, context: context, fail: fail)
        var piece: String?
        var score: Float = 0
        var type = PieceType.normal
        while let field = try reader.next() {
            switch field.number {
            case 1: piece = try field.string(context: context, fail: fail)
            case 2: score = try field.float(context: context, fail: fail)
            case 3:
                let raw = try field.int32(context: context, fail: fail)
                guard let known = PieceType(rawValue: raw) else {
                    throw fail("\(context): unknown piece type \(raw) (expected 1...6)")
                }
                type = known
            default: continue
            }
        }
        guard let piece, !piece.isEmpty else { throw fail("\(context): piece must not be empty") }
        guard score.isFinite else { throw fail("\(context) (\"\(piece)\"): score \(score) is not finite") }
        return Piece(piece: piece, score: score, type: type)
    }

    private mutating func readTrainerSpec(_ bytes: ArraySlice<UInt8>,
                                          fail: @escaping (String) -> TokenizerError) throws(TokenizerError) {
        let context = "ModelProto.trainer_spec"
        var reader = ProtobufReader(bytes, context: context, fail: fail)
        while let field = try reader.next() {
            switch field.number {
            case 3: modelType = try field.int32(context: context, fail: fail)
            case 24: treatWhitespaceAsSuffix = try field.bool(context: context, fail: fail)
            case 35: byteFallback = try field.bool(context: context, fail: fail)
            case 40: unkID = try field.int32(context: context, fail: fail)
            default: continue
            }
        }
    }

    private mutating func readNormalizerSpec(_ bytes: ArraySlice<UInt8>,
                                             fail: @escaping (String) -> TokenizerError) throws(TokenizerError) {
        let context = "ModelProto.normalizer_spec"
        var reader = ProtobufReader(bytes, context: context, fail: fail)
        while let field = try reader.next() {
            switch field.number {
            case 1: normalizerName = try field.string(context: context, fail: fail)
            case 2: precompiledCharsmap = Array(try field.bytes(context: context, fail: fail))
            case 3: addDummyPrefix = try field.bool(context: context, fail: fail)
            case 4: removeExtraWhitespaces = try field.bool(context: context, fail: fail)
            case 5: escapeWhitespaces = try field.bool(context: context, fail: fail)
            // normalization_rule_tsv (6) is the source the trainer compiled into precompiled_charsmap;
            // sentencepiece's normalizer reads only the charsmap.
            default: continue
            }
        }
    }

    /// The checks sentencepiece makes when it loads a model, plus the ones this port relies on.
    private func validate(path: String) throws(TokenizerError) {
        guard modelType == 1 else {
            throw TokenizerError.unsupported(path: path, message: "trainer_spec.model_type is \(modelType); only "
                + "unigram models (1) are supported (T5's spiece.model is unigram)")
        }
        guard !byteFallback else {
            throw TokenizerError.unsupported(path: path, message: "trainer_spec.byte_fallback is true; byte "
                + "fallback is not supported (T5's spiece.model has none)")
        }
        var seen: [String: Int] = [:]
        var unknown: Int?
        for (index, piece) in pieces.enumerated() {
            if let first = seen.updateValue(index, forKey: piece.piece) {
                throw TokenizerError.invalidFile(path: path, message: "pieces[\(index)] \"\(piece.piece)\" is "
                    + "already defined at pieces[\(first)]")
            }
            if piece.type == .unknown {
                if let unknown {
                    throw TokenizerError.invalidFile(path: path, message: "pieces[\(index)] is a second UNKNOWN "
                        + "piece (the first is pieces[\(unknown)])")
                }
                unknown = index
            }
            if piece.type == .byte {
                throw TokenizerError.invalidFile(path: path, message: "pieces[\(index)] \"\(piece.piece)\" is a "
                    + "BYTE piece although byte_fallback is false")
            }
        }
        guard let unknown else {
            throw TokenizerError.invalidFile(path: path, message: "no piece has type UNKNOWN (sentencepiece "
                + "refuses such a model: unk is not defined)")
        }
        guard Int(unkID) == unknown else {
            throw TokenizerError.invalidFile(path: path, message: "trainer_spec.unk_id is \(unkID) but the "
                + "UNKNOWN piece is pieces[\(unknown)]")
        }
        guard pieces.contains(where: { $0.type == .normal }) else {
            throw TokenizerError.invalidFile(path: path, message: "no NORMAL piece (nothing to segment with)")
        }
    }
}
