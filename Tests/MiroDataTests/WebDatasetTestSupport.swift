import Foundation
import Logging
import Testing
import MiroData
import MiroFormats

/// The shard fixtures of `scripts/make_shard_fixtures.py` (Fixtures/shards/) and their `expected.json`.
enum ShardFixture {
    static func directory() throws -> URL {
        let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures resource missing")
        return root.appendingPathComponent("shards")
    }

    static func url(_ file: String) throws -> URL { try directory().appendingPathComponent(file) }

    /// expected.json, parsed with the Python-dialect reader (it contains `NaN` literals).
    static func expected() throws -> [String: PythonJSON] {
        let bytes = [UInt8](try Data(contentsOf: try url("expected.json")))
        return try #require(try PythonJSON.parse(bytes).object)
    }

    static func shards() throws -> [ResolvedShard] {
        let dir = try directory()
        return try WIDSIndex.read(dir.appendingPathComponent(WIDSIndex.fileName)).resolvedShards(indexDirectory: dir)
    }

    /// A writable copy of the fixture tars (the bins builder writes its cache into the root).
    static func writableCopy() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("miro-shards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: try directory().path) where name.hasSuffix(".tar") {
            try FileManager.default.copyItem(at: try url(name), to: dir.appendingPathComponent(name))
        }
        return dir
    }

    /// The sample configuration the fixtures are written for (D = 64).
    static var sampleConfig: EnrichedSampleConfig {
        var c = EnrichedSampleConfig()
        c.textDim = 64
        c.maxTextTokens = 16
        return c
    }
}

/// A logger that drops everything (the default handler would print every skipped sample).
let silentLogger = Logger(label: "miro.tests.webdataset") { _ in SwiftLogNoOpLogHandler() }

/// Records log lines (level, message, metadata) for assertions.
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [(Logger.Level, String, Logger.Metadata)] = []

    func append(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        lock.lock(); lines.append((level, message, metadata)); lock.unlock()
    }

    var entries: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] {
        lock.lock(); defer { lock.unlock() }
        return lines.map { (level: $0.0, message: $0.1, metadata: $0.2) }
    }

    var logger: Logger {
        Logger(label: "miro.tests.capture") { _ in CaptureHandler(sink: self) }
    }
}

struct CaptureHandler: LogHandler {
    let sink: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        sink.append(event.level, event.message.description, event.metadata ?? [:])
    }
}
