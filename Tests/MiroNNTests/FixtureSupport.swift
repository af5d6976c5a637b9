import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroIO

/// Locates committed fixtures (copied into the test bundle as the `Fixtures` folder).
enum Fixtures {
    static func url(_ relativePath: String) throws -> URL {
        let base = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
        let url = base.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw EngineError("fixtures", "missing fixture \(relativePath); regenerate with the scripts/ named in its folder")
        }
        return url
    }

    static func safetensors(_ relativePath: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try TensorFiles.loadSafeTensors(url(relativePath))
    }
}

/// Largest |a − b| / max(|b|, tiny) over all elements.
func maxRelativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.doubles(), y = try b.doubles()
    precondition(x.count == y.count)
    var worst = 0.0
    for (u, v) in zip(x, y) { worst = max(worst, abs(u - v) / max(abs(v), 1e-12)) }
    return worst
}

func maxAbsError(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.doubles(), y = try b.doubles()
    precondition(x.count == y.count)
    return zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
