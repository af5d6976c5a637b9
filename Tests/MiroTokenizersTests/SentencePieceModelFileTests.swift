import Foundation
import Testing
import MiroTokenizers

/// The hand-written protobuf reader on the fixture `spiece.model` and on hand-built messages.
struct SentencePieceModelFileTests {
    @Test func readsTheFixtureModel() throws {
        let path = try Fixtures.path("slow/spiece.model")
        let file = try SentencePieceModelFile(bytes: Array(Data(contentsOf: URL(fileURLWithPath: path))), path: path)
        #expect(file.pieces.count == (try Fixtures.expected()).vocabSize)
        #expect(file.pieces[0] == .init(piece: "<pad>", score: 0, type: .control))
        #expect(file.pieces[1] == .init(piece: "</s>", score: 0, type: .control))
        #expect(file.pieces[2] == .init(piece: "<unk>", score: 0, type: .unknown))
        #expect(file.pieces[3...].allSatisfy { $0.type == .normal && $0.score < 0 })
        #expect(file.unkID == 2 && file.modelType == 1 && !file.byteFallback && !file.treatWhitespaceAsSuffix)
        #expect(file.normalizerName == "nmt_nfkc")
        #expect(file.addDummyPrefix && file.removeExtraWhitespaces && file.escapeWhitespaces)
        #expect(file.precompiledCharsmap.count > 100_000)
    }

    // Wire-format helpers for hand-built messages.
    static func varint(_ value: UInt64) -> [UInt8] {
        var v = value, out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        return out + [UInt8(v)]
    }
    static func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] { varint(UInt64(number << 3 | 2)) + varint(UInt64(payload.count)) + payload }
    static func piece(_ text: String, _ score: Float, type: Int32? = nil) -> [UInt8] {
        var body = field(1, Array(text.utf8)) + varint(UInt64(2 << 3 | 5))
        withUnsafeBytes(of: score.bitPattern.littleEndian) { body += $0 }
        if let type { body += varint(UInt64(3 << 3)) + varint(UInt64(UInt32(bitPattern: type))) }
        return field(1, body)
    }

    @Test func skipsUnknownFieldsAndReadsNegativeInt32() throws {
        // trainer_spec: model_type 1, unk_id 0, an unknown fixed64 field 99, pad_id -1 as a 10-byte varint.
        var trainer = Self.varint(3 << 3) + Self.varint(1) + Self.varint(40 << 3) + Self.varint(0)
        trainer += Self.varint(99 << 3 | 1) + [1, 2, 3, 4, 5, 6, 7, 8]
        trainer += Self.varint(43 << 3) + Self.varint(UInt64(bitPattern: -1))
        let bytes = Self.piece("<unk>", 0, type: 2) + Self.piece("▁a", -1) + Self.piece("b", -2)
            + Self.field(2, trainer) + Self.field(3, Self.varint(3 << 3) + Self.varint(0)) + Self.field(7, [9, 9, 9])
        let file = try SentencePieceModelFile(bytes: bytes, path: "m.model")
        #expect(file.pieces.map(\.piece) == ["<unk>", "▁a", "b"])
        #expect(file.pieces.map(\.type) == [.unknown, .normal, .normal])
        #expect(!file.addDummyPrefix && file.precompiledCharsmap.isEmpty)
        // Without a charsmap and dummy prefix, " a  b " normalizes to "a▁b": "a" and "▁" start no piece, so
        // they are unknown and merge into one piece; "b" is a piece.
        let encoder = try SentencePieceEncoder(file: file, path: "m.model")
        #expect(encoder.encodePieces(" a  b ") == ["a▁", "b"])
        #expect(encoder.encode(" a  b ") == [0, 2])
        #expect(encoder.encodePieces("b a") == ["b", "▁a"])
    }

    @Test func rejectsBrokenModels() throws {
        func expectInvalid(_ bytes: [UInt8], _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation) {
            expectTokenizerError(path: "m.model", contains: [phrase], sourceLocation: sourceLocation) {
                _ = try SentencePieceModelFile(bytes: bytes, path: "m.model")
            }
        }
        let trainer = Self.field(2, Self.varint(3 << 3) + Self.varint(1))
        expectInvalid([], "no pieces")
        expectInvalid(Self.piece("<unk>", 0, type: 2) + Self.piece("a", -1), "no trainer_spec")
        expectInvalid(Self.piece("a", -1) + trainer, "no piece has type UNKNOWN")
        expectInvalid(Self.piece("<unk>", 0, type: 2) + Self.piece("a", -1) + Self.piece("a", -2) + trainer, "already defined")
        expectInvalid(Self.piece("<unk>", 0, type: 2) + Self.piece("a", -1, type: 9) + trainer, "unknown piece type 9")
        expectInvalid(Self.piece("<unk>", 0, type: 2) + Self.piece("a", .nan) + trainer, "not finite")
        expectInvalid(Self.piece("<unk>", 0, type: 2) + Self.field(1, Self.field(1, [0xFF, 0xFE])) + trainer, "not valid UTF-8")
        expectInvalid(Self.piece("<unk>", 0, type: 2) + [0x0A, 0x80], "cut off")
        expectInvalid(Self.piece("<unk>", 0, type: 2) + [0x0A, 0x7F, 0x01], "declares 127 bytes")
        expectInvalid(Self.piece("<unk>", 0, type: 2) + [0x0B], "wire type 3")
        let bpe = Self.field(2, Self.varint(3 << 3) + Self.varint(2))
        expectTokenizerError(path: "m.model", contains: ["model_type is 2"]) {
            _ = try SentencePieceModelFile(bytes: Self.piece("<unk>", 0, type: 2) + Self.piece("a", -1) + bpe, path: "m.model")
        }
    }
}
