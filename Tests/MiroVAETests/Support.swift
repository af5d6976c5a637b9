import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroIO
import MiroVAE

/// Committed fixtures of scripts/make_vae_fixtures.py (copied into the test bundle as `Fixtures`).
enum Fixtures {
    static func url(_ relativePath: String) throws -> URL {
        let base = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
        let url = base.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw VAEError.invalidInput(message: "missing fixture \(relativePath); run scripts/make_vae_fixtures.py")
        }
        return url
    }

    /// `vae_expected.safetensors`: inputs and reference outputs, loaded once.
    static let expected: [String: Tensor] = {
        (try? url("vae_expected.safetensors")).flatMap { try? TensorFiles.loadSafeTensors($0).tensors } ?? [:]
    }()

    static func tensor(_ name: String) throws -> Tensor {
        try #require(expected[name], "vae_expected.safetensors lacks \(name)")
    }
}

/// max |a − b| / max |b|: the error relative to the reference's scale.
func relativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.doubles(), y = try b.doubles()
    guard x.count == y.count else { return .infinity }
    let scale = max(y.map(abs).max() ?? 0, 1e-12)
    return zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) } / scale
}

func expectClose(_ got: Tensor, _ want: Tensor, _ what: String, tolerance: Double = 1e-4,
                 sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(got.shape == want.shape, "\(what): shape \(got.shape) vs \(want.shape)", sourceLocation: sourceLocation)
    guard got.shape == want.shape else { return }
    let err = try relativeError(got, want)
    if ProcessInfo.processInfo.environment["MIRO_TEST_VERBOSE"] != nil { print("\(what): relative error \(err)") }
    #expect(err <= tolerance, "\(what): relative error \(err)", sourceLocation: sourceLocation)
}

/// A fresh temporary directory, removed by the caller's `defer`.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("miro-vae-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Copies the fixture folder `name` into a temporary directory so a test may edit it.
func editableCopy(of name: String) throws -> URL {
    let dir = try temporaryDirectory()
    let target = dir.appendingPathComponent(name)
    try FileManager.default.copyItem(at: try Fixtures.url(name), to: target)
    return target
}

/// The tensors of a safetensors file, by name (sorted for deterministic rewrites).
func tensors(of url: URL) throws -> [(String, Tensor)] {
    try TensorFiles.loadSafeTensors(url).tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
}

/// The message of the `VAEError` that `body` throws, or nil.
func vaeErrorMessage(_ body: () throws -> Void) -> String? {
    do { try body() } catch let error as VAEError { return error.description } catch { return "not a VAEError: \(error)" }
    return nil
}

/// The (name, shape) rows of a key TSV (`name<TAB>AxB<TAB>dtype`).
func keyTable(_ relativePath: String) throws -> [String: [Int]] {
    let text = try String(contentsOf: Fixtures.url(relativePath), encoding: .utf8)
    var out: [String: [Int]] = [:]
    for line in text.split(separator: "\n") {
        let cols = line.split(separator: "\t")
        guard cols.count == 3 else { continue }
        out[String(cols[0])] = cols[1].split(separator: "x").compactMap { Int($0) }
    }
    return out
}
