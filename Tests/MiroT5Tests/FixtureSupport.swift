import Foundation
import Testing
import MiroEngine
import MiroIO
import MiroT5

/// Committed fixtures (scripts/make_t5_fixtures.py), copied into the test bundle as `Fixtures`.
enum Fixtures {
    static func url(_ relativePath: String) throws -> URL {
        let base = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
        let url = base.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw EngineError("fixtures", "missing fixture \(relativePath); regenerate with scripts/make_t5_fixtures.py")
        }
        return url
    }

    /// `reference.safetensors`: inputs, expected hidden states, bucket tables.
    static func reference() throws -> [String: Tensor] {
        try TensorFiles.loadSafeTensors(url("reference.safetensors")).tensors
    }

    static func tensor(_ name: String, in tensors: [String: Tensor]) throws -> Tensor {
        try #require(tensors[name], "reference.safetensors has no '\(name)'")
    }

    /// A writable copy of a fixture folder in a fresh temporary directory.
    static func copy(_ folder: String) throws -> URL {
        let target = try temporaryDirectory(folder).appendingPathComponent(folder)
        try FileManager.default.copyItem(at: url(folder), to: target)
        return target
    }
}

/// A fresh, empty temporary directory.
func temporaryDirectory(_ label: String = #function) throws -> URL {
    let safe = label.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("miro-t5-\(safe)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// max |a − b| / max |b|: the relative error the port is held to.
func relativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
    #expect(a.shape == b.shape)
    let x = try a.to(.float64).doubles(), y = try b.to(.float64).doubles()
    var diff = 0.0, scale = 0.0
    for (u, v) in zip(x, y) {
        diff = max(diff, abs(u - v))
        scale = max(scale, abs(v))
    }
    return diff / max(scale, 1e-30)
}

/// mean |a − b| / mean |b|.
func meanRelativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.to(.float64).doubles(), y = try b.to(.float64).doubles()
    let diff = zip(x, y).reduce(0) { $0 + abs($1.0 - $1.1) }
    return diff / max(y.reduce(0) { $0 + abs($1) }, 1e-30)
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
