import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe file replacement: write everything to a temporary file in the destination's directory, flush it
/// to disk, then `rename(2)` it over the destination. Readers (and a training run resumed after a crash) see
/// either the old complete file or the new complete file, never a half-written checkpoint. The temporary file
/// lives in the same directory because `rename` is only atomic within one file system.
public enum AtomicFile {
    /// Streams the file's contents through `produce`, then atomically moves it into place at `url`.
    public static func write(to url: URL, _ produce: (FileHandle) throws -> Void) throws {
        let path = displayPath(url)
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw FormatError.io(path: path, message: "cannot create a temporary file in \(directory.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            do {
                try produce(handle)
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
            guard rename(temporary.path, url.path) == 0 else {
                let reason = String(cString: strerror(errno))
                throw FormatError.io(path: path, message: "cannot move the finished file into place (\(reason))")
            }
        } catch let error as FormatError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw FormatError.io(path: path, message: "cannot write file (\(error.localizedDescription))")
        }
    }

    /// Writes `data` atomically to `url`.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(contentsOf: data) }
    }
}
