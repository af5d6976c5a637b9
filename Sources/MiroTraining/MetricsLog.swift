import Foundation

/// Appends one JSON object per line to `metrics.jsonl` (flushed every write, so a killed run keeps
/// everything it logged). Values are numbers or strings.
public final class MetricsLog {
    private let handle: FileHandle
    public let url: URL

    /// Opens `url` for appending, creating it when needed. A resumed run appends to the same file.
    public init(url: URL) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
            }
        }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    public func append(_ record: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: record.mapValues(Self.jsonSafe), options: [.sortedKeys])
        try handle.write(contentsOf: data + Data("\n".utf8))
    }

    /// JSON has no NaN/∞: write them as strings so the line stays valid.
    private static func jsonSafe(_ v: Any) -> Any {
        if let d = v as? Double, !d.isFinite { return String(d) }
        if let f = v as? Float, !f.isFinite { return String(f) }
        return v
    }
}
