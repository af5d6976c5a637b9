import Foundation
import Testing
import MiroTokenizers

/// Fixtures from `scripts/make_clip_bert_tokenizer_fixtures.py` (open_clip_torch 2.24.0 + ftfy 6.2.0,
/// transformers 4.40.2 + tokenizers 0.19.1): the real `bpe_simple_vocab_16e6.txt.gz` and the ids each reference gives
/// on a hard text set.
struct CLIPExpected: Decodable {
    struct OpenCLIP: Decodable {
        var ids77: [Int32]
        var ids: [Int32]
    }

    struct HF: Decodable {
        var ids77: [Int32]
        var mask77: [Int32]
        var ids: [Int32]
    }

    struct Case: Decodable {
        var name: String
        var text: String
        var ftfy_changes: Bool
        var open_clip: OpenCLIP
        var hf_fast: HF
    }

    struct Fuzz: Decodable {
        var text: String
        var ftfy_changes: Bool
        var open_clip: [Int32]
        var hf_fast: [Int32]
    }

    struct Batch: Decodable {
        var texts: [String]
        var ids: [[Int32]]
        var mask: [[Int32]]
    }

    var cases: [Case]
    /// `fast(texts, padding=True, truncation=True, max_length=77)`: CLIPProcessor's call for PickScore / SciScore.
    var hf_fast_padding_longest: Batch
    /// Seeded random texts (scripts/…: `fuzz_texts`), 77 ids from each reference.
    var fuzz: [Fuzz]

    static func load() throws -> CLIPExpected {
        try JSONDecoder().decode(CLIPExpected.self, from: Data(contentsOf: URL(fileURLWithPath: try Fixtures.path("clip/expected.json"))))
    }
}

struct GzFacts: Decodable {
    var length: Int
    var line_count: Int
    var first_lines: [String]
    var line_48894: String
}

/// Loading the 1.3 MB merges once per suite keeps the suite fast.
private let openCLIPTokenizer: Result<CLIPTokenizer, Error> = Result { try CLIPTokenizer.openCLIP(bpeGZ: try Fixtures.path("clip/bpe_simple_vocab_16e6.txt.gz")) }
private let huggingFaceTokenizer: Result<CLIPTokenizer, Error> = Result {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("miro-clip-hf-\(getpid())").path
    let files = try CLIPTokenizer.writeHuggingFaceFiles(fromBPEGZ: try Fixtures.path("clip/bpe_simple_vocab_16e6.txt.gz"), into: folder)
    return try CLIPTokenizer.huggingFace(vocabJSON: files.vocabJSON, mergesTXT: files.mergesTXT)
}

@Suite("CLIP tokenizers against open_clip 2.24.0 and CLIPTokenizerFast 4.40.2")
struct CLIPTokenizerParityTests {
    @Test func inflateReproducesTheRealVocabularyFile() throws {
        let facts = try JSONDecoder().decode(GzFacts.self, from: Data(contentsOf: URL(fileURLWithPath: try Fixtures.path("clip/gz_facts.json"))))
        let bytes = try GzipFile.decompress(path: try Fixtures.path("clip/bpe_simple_vocab_16e6.txt.gz"))
        #expect(bytes.count == facts.length)
        let text = try #require(String(validating: bytes, as: UTF8.self))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == facts.line_count)
        #expect(lines.prefix(4).map(String.init) == facts.first_lines)
        #expect(String(lines[48894]) == facts.line_48894)
    }

    @Test func inflateStoredAndFixedHuffmanBlocks() throws {
        // gzip.compress(b'hello hello hello hello!', compresslevel=0 / 9, mtime=0)
        let stored: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 4, 3, 1, 24, 0, 231, 255, 104, 101, 108, 108, 111, 32, 104, 101, 108, 108, 111, 32, 104,
                               101, 108, 108, 111, 32, 104, 101, 108, 108, 111, 33, 64, 113, 229, 167, 24, 0, 0, 0]
        let fixed: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 203, 72, 205, 201, 201, 87, 200, 64, 39, 21, 1, 64, 113, 229, 167, 24, 0, 0, 0]
        let expected = Array("hello hello hello hello!".utf8)
        #expect(try GzipFile.decompress(stored) == expected)
        #expect(try GzipFile.decompress(fixed) == expected)
        // Two members concatenated read as one stream, as gzip.open does.
        #expect(try GzipFile.decompress(stored + fixed) == expected + expected)
    }

    @Test func vocabularyAndSpecialIDs() throws {
        let oc = try openCLIPTokenizer.get()
        let hf = try huggingFaceTokenizer.get()
        #expect(oc.vocabularySize == 49408 && hf.vocabularySize == 49408)
        #expect(oc.bosID == 49406 && oc.eosID == 49407 && oc.padID == 0)
        #expect(hf.bosID == 49406 && hf.eosID == 49407 && hf.padID == 49407)
    }

    @Test func huggingFaceFastMatchesOnTheWholeHardSet() throws {
        let hf = try huggingFaceTokenizer.get()
        for c in try CLIPExpected.load().cases {
            #expect(hf.encode(c.text) == c.hf_fast.ids, "\(c.name)")
            let e = try hf.encode(c.text, length: 77)
            #expect(e.ids == c.hf_fast.ids77, "\(c.name)")
            #expect(e.attentionMask == c.hf_fast.mask77, "\(c.name)")
        }
    }

    @Test func huggingFacePaddingToTheLongestRow() throws {
        let hf = try huggingFaceTokenizer.get()
        let batch = try CLIPExpected.load().hf_fast_padding_longest
        let rows = try hf.encode(batch: batch.texts, length: 77, padding: .longest)
        #expect(rows.map(\.ids) == batch.ids)
        #expect(rows.map(\.attentionMask) == batch.mask)
    }

    /// Texts that ftfy leaves alone must match exactly; the others are listed by the mismatch test below.
    @Test func openCLIPMatchesWhereFtfyChangesNothing() throws {
        let oc = try openCLIPTokenizer.get()
        for c in try CLIPExpected.load().cases where !c.ftfy_changes {
            #expect(oc.encode(c.text) == c.open_clip.ids, "\(c.name)")
            #expect(try oc.encode(c.text, length: 77).ids == c.open_clip.ids77, "\(c.name)")
        }
    }

    @Test func openCLIPOnTextsFtfyRewrites() throws {
        let oc = try openCLIPTokenizer.get()
        for c in try CLIPExpected.load().cases where c.ftfy_changes && !OpenCLIPKnownDifferences.names.contains(c.name) {
            #expect(try oc.encode(c.text, length: 77).ids == c.open_clip.ids77, "\(c.name)")
        }
    }

    @Test func bothFlavoursMatchOnSeededRandomTexts() throws {
        let oc = try openCLIPTokenizer.get()
        let hf = try huggingFaceTokenizer.get()
        let fuzz = try CLIPExpected.load().fuzz
        #expect(fuzz.count >= 100)
        var mismatches = (hf: 0, openCLIP: 0)
        for (k, c) in fuzz.enumerated() {
            let h = try hf.encode(c.text, length: 77).ids
            if h != c.hf_fast { mismatches.hf += 1 }
            #expect(h == c.hf_fast, "fuzz \(k): \(c.text.debugDescription)")
            let o = try oc.encode(c.text, length: 77).ids
            if o != c.open_clip { mismatches.openCLIP += 1 }
            #expect(o == c.open_clip, "fuzz \(k): \(c.text.debugDescription)")
        }
        #expect(mismatches.hf == 0 && mismatches.openCLIP == 0, "\(mismatches) of \(fuzz.count)")
    }

    /// Keeps the known-difference list honest: each listed text really differs (ftfy's mojibake repair is not ported).
    @Test func knownDifferencesStillDiffer() throws {
        let oc = try openCLIPTokenizer.get()
        let cases = try CLIPExpected.load().cases.filter { OpenCLIPKnownDifferences.names.contains($0.name) }
        #expect(cases.count == OpenCLIPKnownDifferences.names.count)
        for c in cases { #expect(try oc.encode(c.text, length: 77).ids != c.open_clip.ids77, "\(c.name)") }
    }

    @Test func truncationKeepsEndTokenLast() throws {
        let hf = try huggingFaceTokenizer.get()
        let long = String(repeating: "a red fox ", count: 60)
        let e = try hf.encode(long, length: 77)
        #expect(e.ids.count == 77 && e.ids.first == 49406 && e.ids.last == 49407)
        #expect(e.attentionMask.allSatisfy { $0 == 1 })
        #expect(throws: TokenizerError.self) { try hf.encode("x", length: 1) }
    }
}

/// Hard-set texts on which the Swift open_clip path is known to differ from open_clip (ftfy's mojibake repair).
enum OpenCLIPKnownDifferences {
    static let names: Set<String> = ["mojibake"]
}
