import Foundation
import Testing
import MiroEngine
import MiroImage
import MiroIO
import MiroRewardModels
import MiroTokenizers

/// Committed fixtures (scripts/make_clip_reward_fixtures.py), copied into the test bundle as `Fixtures`.
enum Fixtures {
    static func url(_ relativePath: String) throws -> URL {
        let base = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
        let url = base.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw EngineError("fixtures", "missing fixture \(relativePath); regenerate with scripts/make_clip_reward_fixtures.py")
        }
        return url
    }

    /// `reference.safetensors`, read once.
    static let referenceTensors: Result<[String: Tensor], Error> = Result {
        try TensorFiles.loadSafeTensors(url("reference.safetensors")).tensors
    }

    static func reference(_ name: String) throws -> Tensor {
        try #require(try referenceTensors.get()[name], "reference.safetensors has no '\(name)'")
    }

    /// A writable copy of a fixture folder in a fresh temporary directory.
    static func copy(_ folder: String) throws -> URL {
        let target = try temporaryDirectory(folder).appendingPathComponent(folder)
        try FileManager.default.copyItem(at: url(folder), to: target)
        return target
    }

    /// open_clip's real `bpe_simple_vocab_16e6.txt.gz`, committed once with the tokenizer tests (1.3 MB; read from
    /// the source tree instead of a second copy in this bundle).
    static var bpeGZ: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MiroTokenizersTests/Fixtures/clip/bpe_simple_vocab_16e6.txt.gz")
    }

    static let openCLIPTokenizer: Result<CLIPTokenizer, Error> = Result { try CLIPTokenizer.openCLIP(bpeGZ: bpeGZ.path) }

    /// transformers' tokenizer over the same vocabulary (vocab.json / merges.txt derived from the bpe file).
    static let huggingFaceTokenizer: Result<CLIPTokenizer, Error> = Result {
        let folder = try temporaryDirectory("hf-tokenizer").path
        let files = try CLIPTokenizer.writeHuggingFaceFiles(fromBPEGZ: bpeGZ.path, into: folder)
        return try CLIPTokenizer.huggingFace(vocabJSON: files.vocabJSON, mergesTXT: files.mergesTXT)
    }
}

/// A preprocessor that hands out fixed pixel tensors in turn (the reference's `pixel_values`), so the reward
/// path is tested without the image resizing of MiroImage.
final class FixedPixels: RewardImagePreprocessor, @unchecked Sendable {
    let size: Int
    private let rows: [[Float]]
    private var next = 0
    private let lock = NSLock()

    init(_ pixels: Tensor) throws {
        size = pixels.size(2)
        let n = pixels.size(0)
        let all = try pixels.floats()
        let per = all.count / n
        rows = (0..<n).map { Array(all[($0 * per)..<(($0 + 1) * per)]) }
    }

    func pixelValues(_ image: RGBImage) throws -> [Float] {
        lock.lock()
        defer { lock.unlock() }
        let row = rows[next % rows.count]
        next += 1
        return row
    }
}

/// A fresh, empty temporary directory.
func temporaryDirectory(_ label: String = #function) throws -> URL {
    let safe = label.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("miro-rewards-\(safe)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// max |a − b| / max |b|: the relative error the port is held to.
func relativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
    #expect(a.shape == b.shape)
    return try relativeError(a.to(.float64).doubles(), b.to(.float64).doubles())
}

func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    #expect(a.count == b.count)
    var diff = 0.0, scale = 0.0
    for (u, v) in zip(a, b) {
        diff = max(diff, Swift.abs(u - v))
        scale = max(scale, Swift.abs(v))
    }
    return diff / max(scale, 1e-30)
}

func relativeError(_ a: [Float], _ b: Tensor) throws -> Double {
    try relativeError(a.map(Double.init), b.to(.float64).doubles())
}

/// The description of the error `body` throws, or nil.
func thrownDescription(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

/// Rewrites `config.json` in `folder` with `edit` applied to its top-level object.
func editConfig(_ folder: URL, _ edit: (inout [String: Any]) -> Void) throws {
    let url = folder.appendingPathComponent("config.json")
    var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    edit(&object)
    try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]).write(to: url)
}

/// A blank image (the fixed-pixel preprocessor ignores its content).
func blankImage() throws -> RGBImage {
    RGBImage(width: 4, height: 4)
}
