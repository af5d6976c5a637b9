import Foundation
import Testing
import MiroTokenizers

/// Missing and corrupt CLIP / BERT tokenizer files fail with a `TokenizerError` naming the file.
@Suite("CLIP and BERT tokenizer file errors")
struct CLIPBERTFileErrorTests {
    private func scratch(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("miro-clip-errors-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    private func expectError(naming path: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("no error for \(path)")
        } catch let error as TokenizerError {
            #expect(error.description.contains(path), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func missingFiles() {
        let missing = scratch("nope.txt.gz")
        expectError(naming: missing) { _ = try CLIPTokenizer.openCLIP(bpeGZ: missing) }
        expectError(naming: missing) { _ = try BERTWordPieceTokenizer(vocabTXT: missing) }
        expectError(naming: missing) { _ = try CLIPTokenizer.huggingFace(vocabJSON: missing, mergesTXT: missing) }
    }

    @Test func corruptGzip() throws {
        let real = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try Fixtures.path("clip/bpe_simple_vocab_16e6.txt.gz"))))
        let truncated = scratch("truncated.gz")
        try Data(real.prefix(real.count / 2)).write(to: URL(fileURLWithPath: truncated))
        expectError(naming: truncated) { _ = try CLIPTokenizer.openCLIP(bpeGZ: truncated) }

        var flipped = real
        flipped[real.count / 2] ^= 0x5A
        let corrupt = scratch("flipped.gz")
        try Data(flipped).write(to: URL(fileURLWithPath: corrupt))
        expectError(naming: corrupt) { _ = try CLIPTokenizer.openCLIP(bpeGZ: corrupt) }

        let notGzip = scratch("plain.gz")
        try Data("#version\nh e\n".utf8).write(to: URL(fileURLWithPath: notGzip))
        expectError(naming: notGzip) { _ = try CLIPTokenizer.openCLIP(bpeGZ: notGzip) }

        // A bad CRC in the trailer.
        var badCRC = real
        badCRC[real.count - 8] ^= 1
        #expect(throws: TokenizerError.self) { _ = try GzipFile.decompress(badCRC, path: "x.gz") }
    }

    @Test func corruptHuggingFaceFiles() throws {
        let vocab = scratch("vocab.json"), merges = scratch("merges.txt")
        try Data("{\"a\": 0, \"b\": 1, \"ab\": 2, \"<|startoftext|>\": 3, \"<|endoftext|>\": 4}".utf8).write(to: URL(fileURLWithPath: vocab))
        try Data("#version: 0.2\na b\n".utf8).write(to: URL(fileURLWithPath: merges))
        _ = try CLIPTokenizer.huggingFace(vocabJSON: vocab, mergesTXT: merges)

        try Data("#version: 0.2\na b c\n".utf8).write(to: URL(fileURLWithPath: merges))
        expectError(naming: merges) { _ = try CLIPTokenizer.huggingFace(vocabJSON: vocab, mergesTXT: merges) }
        try Data("a b\n".utf8).write(to: URL(fileURLWithPath: merges))
        expectError(naming: merges) { _ = try CLIPTokenizer.huggingFace(vocabJSON: vocab, mergesTXT: merges) }
        try Data("#version: 0.2\na x\n".utf8).write(to: URL(fileURLWithPath: merges))
        expectError(naming: merges) { _ = try CLIPTokenizer.huggingFace(vocabJSON: vocab, mergesTXT: merges) }

        try Data("#version: 0.2\na b\n".utf8).write(to: URL(fileURLWithPath: merges))
        try Data("[1, 2]".utf8).write(to: URL(fileURLWithPath: vocab))
        expectError(naming: vocab) { _ = try CLIPTokenizer.huggingFace(vocabJSON: vocab, mergesTXT: merges) }
        try Data("{\"a\": 0, \"b\": 1, \"ab\": 2, \"<|endoftext|>\": 4}".utf8).write(to: URL(fileURLWithPath: vocab))
        expectError(naming: vocab) { _ = try CLIPTokenizer.huggingFace(vocabJSON: vocab, mergesTXT: merges) }
        try Data("{\"a\": -3, \"b\": 1, \"ab\": 2, \"<|startoftext|>\": 3, \"<|endoftext|>\": 4}".utf8).write(to: URL(fileURLWithPath: vocab))
        expectError(naming: vocab) { _ = try CLIPTokenizer.huggingFace(vocabJSON: vocab, mergesTXT: merges) }
    }

    @Test func corruptBERTVocabulary() throws {
        let vocab = scratch("bert-vocab.txt")
        try Data("[PAD]\n[UNK]\n[SEP]\nhello\n".utf8).write(to: URL(fileURLWithPath: vocab))
        expectError(naming: vocab) { _ = try BERTWordPieceTokenizer(vocabTXT: vocab) }
        try Data([0x5B, 0x50, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: vocab))
        expectError(naming: vocab) { _ = try BERTWordPieceTokenizer(vocabTXT: vocab) }
    }
}
