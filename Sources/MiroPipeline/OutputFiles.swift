import Foundation

/// File naming for outputs: never overwrite what is there.
public enum OutputFiles {
    /// A prompt as a file-name stem: lower-case letters and digits, runs of anything else as one "-", at most
    /// 60 characters ("image" when nothing is left).
    public static func slug(_ prompt: String) -> String {
        let s = prompt.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        let collapsed = String(s).split(separator: "-").joined(separator: "-")
        return String(collapsed.prefix(60)).isEmpty ? "image" : String(collapsed.prefix(60))
    }

    /// `dir` if it does not exist or is empty, else `dir-2`, `dir-3`, ...
    public static func freshDirectory(_ dir: URL) throws -> URL {
        var url = dir
        var k = 2
        while let items = try? FileManager.default.contentsOfDirectory(atPath: url.path), !items.isEmpty {
            url = dir.deletingLastPathComponent().appendingPathComponent("\(dir.lastPathComponent)-\(k)")
            k += 1
        }
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `base.ext`, or `base-2.ext`, `base-3.ext`, ... if taken.
    public static func unique(in dir: URL, base: String, ext: String) throws -> URL {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var url = dir.appendingPathComponent("\(base).\(ext)")
        var k = 2
        while FileManager.default.fileExists(atPath: url.path) {
            url = dir.appendingPathComponent("\(base)-\(k).\(ext)")
            k += 1
        }
        return url
    }
}
