import Foundation
import Logging
import MiroIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A run directory as the trainer owns it: an exclusive lock for the lifetime of a training process, what
/// an earlier run left there, and the clean-up that only ever touches files a run writes itself.
///
///     run.json  metrics.jsonl  checkpoints/step-NNNNNNN.safetensors  samples/step-NNNNNNN.png  .lock
public struct RunDirectory: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var checkpoints: URL { url.appendingPathComponent("checkpoints") }
    public var samples: URL { url.appendingPathComponent("samples") }
    public var runJSON: URL { url.appendingPathComponent("run.json") }
    public var metrics: URL { url.appendingPathComponent("metrics.jsonl") }
    var lockFile: URL { url.appendingPathComponent(".lock") }

    /// The files of an earlier run here (empty when the directory is new, empty or holds none).
    public var existingRunFiles: [URL] {
        let fm = FileManager.default
        var found = [runJSON, metrics].filter { fm.fileExists(atPath: $0.path) }
        found += Checkpoint.list(in: checkpoints).map(\.url)
        found += Self.sampleGrids(in: samples)
        return found
    }

    static func sampleGrids(in dir: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasPrefix("step-") && $0.hasSuffix(".png") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// Refuses to start a new run over an earlier one unless `overwrite` (`--overwrite`, or a resume of a run that
    /// never reached its first checkpoint), in which case that run's own files (run.json, metrics, checkpoints,
    /// sample grids) are removed and nothing else.
    public func prepareForNewRun(overwrite: Bool, logger: Logger) throws {
        let earlier = existingRunFiles
        guard !earlier.isEmpty else { return }
        let newest = Checkpoint.list(in: checkpoints).last.map { ", newest checkpoint step \($0.step)" } ?? ""
        guard overwrite else {
            throw TrainingError.badConfig("\(url.path) already holds a run (\(earlier.count) files\(newest)); continue it with "
                + "--resume, choose another directory, or (miro train) pass --overwrite to replace it")
        }
        for file in earlier { try FileManager.default.removeItem(at: file) }
        logger.info("removed the earlier run's \(earlier.count) files from \(url.path)")
    }

    /// Removes the temporary files an interrupted atomic write left in the run (`.<name>.<id>.tmp` beside
    /// checkpoints, grids and run files); returns how many.
    @discardableResult
    public func removeStaleTemporaries() throws -> Int {
        var removed = 0
        for dir in [url, checkpoints, samples] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for name in names where Self.isAtomicTemporary(name) {
                try FileManager.default.removeItem(at: dir.appendingPathComponent(name))
                removed += 1
            }
        }
        return removed
    }

    /// `.step-0000100.safetensors.<UUID>.tmp`, `.step-0000100.png.<pid>.<n>.tmp`, `.run.json.<…>.tmp`: the names
    /// `AtomicFile` and the PNG writer give their temporaries for the run's own files.
    static func isAtomicTemporary(_ name: String) -> Bool {
        guard name.hasPrefix("."), name.hasSuffix(".tmp") else { return false }
        let inner = name.dropFirst()
        return inner.hasPrefix("step-") || inner.hasPrefix("run.json.") || inner.hasPrefix("metrics.jsonl.")
    }

    /// Keeps the metrics lines of steps up to `step` (a resumed run trains the later ones again, so their
    /// lines would appear twice); returns how many were dropped.
    @discardableResult
    public func truncateMetrics(after step: Int) throws -> Int {
        guard let data = FileManager.default.contents(atPath: metrics.path) else { return 0 }
        var kept: [Substring] = [], dropped = 0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true) {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if let s = object?["step"] as? Int, s > step { dropped += 1 } else if object != nil { kept.append(line) } else { dropped += 1 }
        }
        guard dropped > 0 else { return 0 }
        try Data((kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).utf8).write(to: metrics, options: .atomic)
        return dropped
    }

    /// Takes the run's exclusive lock (`flock` on `.lock`), held until the returned lock is released or the
    /// process ends — a kill -9 releases it too, so a stale lock file never blocks a resume.
    public func lock() throws -> RunLock {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let fd = open(lockFile.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TrainingError.badConfig("cannot open \(lockFile.path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOf: lockFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw TrainingError.badConfig("\(url.path) is in use by another training process"
                + (holder.map { $0.isEmpty ? "" : " (pid \($0))" } ?? "") + "; wait for it to finish or stop it first")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        return RunLock(fd: fd)
    }
}

/// A held run-directory lock; released when this object goes away.
public final class RunLock: @unchecked Sendable {
    private let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}
