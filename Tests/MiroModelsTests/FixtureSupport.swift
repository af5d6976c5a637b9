import Foundation
import Testing
import MiroEngine
import MiroIO
import MiroModels
import MiroNN

/// Locates committed fixtures (copied into the test bundle as the `Fixtures` folder).
enum Fixtures {
    static func url(_ relativePath: String) throws -> URL {
        let base = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
        let url = base.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw EngineError("fixtures", "missing fixture \(relativePath); regenerate with scripts/make_model_fixtures.py")
        }
        return url
    }

    /// The released state-dict key list, shared with the MiroNN tests (one copy in the repository):
    /// Tests/MiroNNTests/Fixtures/miro-state-dict-keys.tsv, found next to this source file.
    static func releasedKeysURL(file: String = #filePath) throws -> URL {
        let url = URL(fileURLWithPath: file).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MiroNNTests/Fixtures/miro-state-dict-keys.tsv")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw EngineError("fixtures", "missing \(url.path) (the released key list of the MiroNN tests)")
        }
        return url
    }
}

/// The parity fixture of scripts/make_model_fixtures.py, loaded once (the file is ~1 MB).
final class SmallModelFixture: @unchecked Sendable {
    static let shared = Result { try SmallModelFixture() }

    let tensors: [String: Tensor]
    let metadata: [String: String]
    let config: MIROPipelineConfig

    private init() throws {
        (tensors, metadata) = try TensorFiles.loadSafeTensors(Fixtures.url("miro_small.safetensors"))
        let json = try #require(metadata["config"]).data(using: .utf8)!
        config = try JSONDecoder().decode(MIROPipelineConfig.self, from: json)
    }

    func tensor(_ key: String) throws -> Tensor {
        guard let t = tensors[key] else { throw EngineError("fixture", "miro_small.safetensors lacks \(key)") }
        return t
    }

    /// The official model with the fixture's weights, in float64 (a fresh instance per call).
    func model() throws -> MIROModel {
        let model = try MIROModel(config: config, generator: Generator(seed: 0))
        try model.to(.float64)
        var weights: [String: Tensor] = [:]
        for (k, v) in tensors where k.hasPrefix("param.") { weights[String(k.dropFirst(6))] = v }
        try model.load(weights, source: "miro_small.safetensors")
        model.eval()
        return model
    }

    /// Conditioning tensors stored as `<prefix>text`, `<prefix>text_mask`, `<prefix>rewards`.
    func conditioning(_ prefix: String) throws -> MIROConditioning {
        try MIROConditioning(text: tensor(prefix + "text"), textMask: tensor(prefix + "text_mask"),
                             rewards: tensor(prefix + "rewards"))
    }
}

/// Largest |a − b| / max(|b|, 1e-12), NaN-aware (NaN only matches NaN).
func maxRelativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.doubles(), y = try b.doubles()
    precondition(x.count == y.count, "sizes \(x.count) vs \(y.count)")
    var worst = 0.0
    for (u, v) in zip(x, y) {
        if u.isNaN || v.isNaN { if u.isNaN != v.isNaN { return .infinity }; continue }
        worst = max(worst, abs(u - v) / max(abs(v), 1e-12))
    }
    return worst
}

func maxAbsError(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.doubles(), y = try b.doubles()
    precondition(x.count == y.count, "sizes \(x.count) vs \(y.count)")
    return zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Errors observed by the parity tests, printed at the end of each test for the record.
func expectClose(_ got: Tensor, _ want: Tensor, _ what: String, tolerance: Double = 1e-10,
                 sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(got.shape == want.shape || got.count == want.count, "\(what): shape \(got.shape) vs \(want.shape)",
            sourceLocation: sourceLocation)
    let scale = try want.abs().amax().item()
    let err = try maxAbsError(got, want) / max(scale, 1e-12)
    print("parity \(what): max abs error / max |want| = \(err)")
    #expect(err <= tolerance, "\(what): max abs error / max |want| = \(err)", sourceLocation: sourceLocation)
}
