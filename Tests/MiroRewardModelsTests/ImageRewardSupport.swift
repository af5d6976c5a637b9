import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroIO
import MiroRewardModels

/// Committed fixtures of scripts/make_imagereward_fixtures.py (`Fixtures/imagereward/`).
enum ImageRewardFixtures {
    static func url(_ relativePath: String) throws -> URL {
        let base = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/imagereward")
        let url = base.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RewardModelError.file(path: url.path, reason: "missing fixture; run scripts/make_imagereward_fixtures.py")
        }
        return url
    }

    /// The tiny model's vision tower (the script's `VISION`).
    static let vision = BLIPVisionConfig(imageSize: 32, patchSize: 16, width: 32, depth: 2, heads: 2)

    /// `expected.safetensors`, loaded once.
    static let expected: [String: Tensor] = {
        (try? url("expected.safetensors")).flatMap { try? TensorFiles.loadSafeTensors($0).tensors } ?? [:]
    }()

    static func tensor(_ name: String) throws -> Tensor {
        try #require(expected[name], "expected.safetensors lacks \(name)")
    }

    /// The captions paired with the fixture's pixels (the file's `captions` metadata).
    static func captions() throws -> [String] {
        let metadata = try TensorFiles.loadSafeTensors(url("expected.safetensors")).metadata
        let json = try #require(metadata["captions"])
        return try JSONDecoder().decode([String].self, from: Data(json.utf8))
    }

    static func model() throws -> ImageReward {
        try ImageReward.load(folder: url("tiny"), vision: vision)
    }
}

/// max |a − b| / max |b|: the error relative to the reference's scale.
func imageRewardRelativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.doubles(), y = try b.doubles()
    guard x.count == y.count else { return .infinity }
    let scale = max(y.map(abs).max() ?? 0, 1e-12)
    return zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) } / scale
}

func expectImageRewardClose(_ got: Tensor, _ want: Tensor, _ what: String, tolerance: Double = 1e-4,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(got.shape == want.shape, "\(what): shape \(got.shape) vs \(want.shape)", sourceLocation: sourceLocation)
    guard got.shape == want.shape else { return }
    let err = try imageRewardRelativeError(got, want)
    if ProcessInfo.processInfo.environment["MIRO_TEST_VERBOSE"] != nil { print("\(what): relative error \(err)") }
    #expect(err <= tolerance, "\(what): relative error \(err)", sourceLocation: sourceLocation)
}

/// A fresh temporary directory, removed by the caller's `defer`.
func imageRewardTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("miro-imagereward-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The message of the `RewardModelError` that `body` throws, or nil.
func imageRewardErrorMessage(_ body: () throws -> Void) -> String? {
    do { try body() } catch let error as RewardModelError { return error.description } catch { return "not a RewardModelError: \(error)" }
    return nil
}

/// The tiny checkpoint's tensors as a torch file gives them, by name, in file order.
func tinyCheckpointTensors() throws -> [(String, Tensor)] {
    let checkpoint = try TorchCheckpoint(contentsOf: ImageRewardFixtures.url("tiny/ImageReward.pt"))
    return try checkpoint.tensors.map { t in
        let dtype = try #require(DType(t.dtype))
        return (t.name, try t.bytes.withUnsafeBytes { try Tensor(bytes: $0, shape: t.shape, dtype: dtype) })
    }
}

/// A folder with `med_config.json` and `tensors` written as `ImageReward.safetensors`.
func tinySafeTensorsFolder(_ tensors: [(String, Tensor)]) throws -> URL {
    let dir = try imageRewardTemporaryDirectory()
    try FileManager.default.copyItem(at: ImageRewardFixtures.url("tiny/med_config.json"),
                                     to: dir.appendingPathComponent("med_config.json"))
    try TensorFiles.saveSafeTensors(tensors, to: dir.appendingPathComponent("ImageReward.safetensors"))
    return dir
}
