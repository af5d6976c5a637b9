import ArgumentParser
import Foundation
import MiroEngine
import MiroPipeline
import MiroTraining

/// Range checks of numeric flags, run in `validate()` before any work: a value outside its documented
/// range is a usage error (exit 64) naming the flag, never a trap, a huge allocation or a silent clamp.
enum FlagCheck {
    /// Throws unless `lo ≤ value ≤ hi`: "--per-prompt must be in 1…1000 (got 9223372036854775807)".
    static func range<T: BinaryInteger>(_ value: T, _ bounds: ClosedRange<T>, _ flag: String, unit: String = "") throws {
        guard bounds.contains(value) else {
            throw ValidationError("\(flag) must be in \(bounds.lowerBound)…\(bounds.upperBound)\(unit) (got \(value))")
        }
    }

    /// `range` for an optional flag; nil (not given) passes.
    static func range<T: BinaryInteger>(_ value: T?, _ bounds: ClosedRange<T>, _ flag: String, unit: String = "") throws {
        if let value { try range(value, bounds, flag, unit: unit) }
    }

    /// Throws unless `value` is finite and within `bounds`.
    static func range(_ value: Double, _ bounds: ClosedRange<Double>, _ flag: String) throws {
        guard value.isFinite, bounds.contains(value) else {
            throw ValidationError("\(flag) must be a finite number in \(bounds.lowerBound)…\(bounds.upperBound) (got \(value))")
        }
    }

    /// The product of `factors` (each already range-checked), refusing an overflow or a product above `limit`;
    /// `what` names the product in the message, e.g. "images (prompts × -n)".
    @discardableResult
    static func product(_ factors: [Int], atMost limit: Int, _ what: String) throws -> Int {
        var p = 1
        for f in factors {
            let (r, overflow) = p.multipliedReportingOverflow(by: f)
            guard !overflow, r <= limit else {
                throw ValidationError("too many \(what): \(factors.map(String.init).joined(separator: " × ")) exceeds \(limit)")
            }
            p = r
        }
        return p
    }

    /// Runs `body`, turning an `InputError` (a problem with what the user typed or named) into a `ValidationError`,
    /// so that checks run in `validate()` exit with the usage status.
    static func usage<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as InputError { throw ValidationError(error.description) }
    }
}

/// `--threads N`: libtorch's intra-op thread count, 1…4× the logical cores and at most 1024 (more threads than
/// that only spin, and libtorch's OpenMP pool traps on absurd counts). Used by every command with `--threads`:
/// as an option group (`@OptionGroup var threadOptions: ThreadOptions`, then `threadOptions.apply()`), or for an
/// option with its own help text, `ThreadOptions.check(threads)` in `validate()` and `ThreadOptions.apply(threads)`.
struct ThreadOptions: ParsableArguments {
    @Option(help: ArgumentHelp("libtorch intra-op threads, 1…\(ThreadOptions.maximum) (default: every core, half of them with OpenBLAS, or OMP_NUM_THREADS).",
                               valueName: "n"))
    var threads: Int?

    /// The largest accepted `--threads`: 4× the logical cores, at most 1024.
    static var maximum: Int { min(1024, 4 * max(1, ProcessInfo.processInfo.activeProcessorCount)) }

    static func check(_ threads: Int?, flag: String = "--threads") throws {
        try FlagCheck.range(threads, 1...maximum, flag, unit: " (1 to 4× the \(ProcessInfo.processInfo.activeProcessorCount) cores, at most 1024)")
    }

    /// Sets libtorch's thread count to `threads`, or to `Engine.defaultThreads` when not given.
    /// Every command that computes calls this first, so the process's allocator is set up here too.
    static func apply(_ threads: Int?) {
        if let threads { Engine.threads = threads } else { Engine.useDefaultThreads() }
        Engine.keepFreedMemory()
    }

    func validate() throws { try Self.check(threads) }
    func apply() { Self.apply(threads) }
}

/// `--batch-splits`: how many parts of each training batch run at once, one per thread (`TrainStep.batchSplits`).
struct BatchSplitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Run each batch as n parts of its rows at once, one per libtorch thread, each part "
                               + "single-threaded (default: one per thread; 1 with OpenBLAS). 1: the whole batch, "
                               + "with libtorch splitting each operation across its threads instead.",
                               valueName: "n"))
    var batchSplits: Int?

    func validate() throws { try FlagCheck.range(batchSplits, 1...ThreadOptions.maximum, "--batch-splits") }

    /// The flag's value, else `Trainer.defaultBatchSplits`: read it after the threads are set.
    var value: Int { batchSplits ?? Trainer.defaultBatchSplits }
}

/// Checks of paths named by flags, run before any work, so that a bad `--out` is reported at once and in the
/// flag's words instead of as a Foundation error after a long evaluation.
enum PathCheck {
    enum Kind { case file, directory }

    /// Throws unless `path` can be written as a `kind`: not empty; when it exists, of that kind (a regular file
    /// for `.file`: never a device such as /dev/null, which an atomic write would replace) and writable; when it
    /// does not, its nearest existing ancestor is a writable directory (the missing folders are created later).
    static func writable(_ path: String, _ flag: String, as kind: Kind) throws {
        guard !path.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("\(flag) must not be empty (name a \(kind == .file ? "file" : "directory"); '.' for the current directory)")
        }
        let fm = FileManager.default
        let url = URL(fileURLWithPath: path).standardizedFileURL
        if let type = fileType(url.path) {
            switch (kind, type) {
            case (.directory, .typeDirectory), (.file, .typeRegular):
                guard fm.isWritableFile(atPath: url.path) else { throw ValidationError("\(flag) \(path) is not writable") }
                return
            case (.directory, _):
                throw ValidationError("\(flag) \(path) is \(describe(type)), not a directory")
            case (.file, _):
                throw ValidationError("\(flag) \(path) is \(describe(type)), not a regular file to write")
            }
        }
        var ancestor = url.deletingLastPathComponent()
        while fileType(ancestor.path) == nil, ancestor.path != "/" { ancestor = ancestor.deletingLastPathComponent() }
        guard let type = fileType(ancestor.path), type == .typeDirectory else {
            throw ValidationError("\(flag) \(path): \(ancestor.path) is \(fileType(ancestor.path).map(describe) ?? "missing"), not a directory")
        }
        guard fm.isWritableFile(atPath: ancestor.path) else {
            throw ValidationError("\(flag) \(path): cannot create it, the directory \(ancestor.path) is not writable")
        }
    }

    /// Throws unless `path` is a readable regular file.
    static func readableFile(_ path: String, _ flag: String) throws {
        guard !path.isEmpty else { throw ValidationError("\(flag) must not be empty") }
        guard let type = fileType(path) else { throw ValidationError("\(flag) \(path): no such file") }
        guard type == .typeRegular else { throw ValidationError("\(flag) \(path) is \(describe(type)), not a file") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw ValidationError("\(flag) \(path) is not readable") }
    }

    /// Throws unless `path` is a readable directory.
    static func readableDirectory(_ path: String, _ flag: String) throws {
        guard !path.isEmpty else { throw ValidationError("\(flag) must not be empty") }
        guard let type = fileType(path) else { throw ValidationError("\(flag) \(path): no such directory") }
        guard type == .typeDirectory else { throw ValidationError("\(flag) \(path) is \(describe(type)), not a directory") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw ValidationError("\(flag) \(path) is not readable") }
    }

    /// Throws unless `path` names a checkpoint candidate: an existing regular file or directory (what is inside
    /// is the loader's to judge).
    static func checkpoint(_ path: String, _ flag: String = "--checkpoint") throws {
        guard !path.isEmpty else { throw ValidationError("\(flag) must not be empty") }
        guard let type = fileType(path) else { throw ValidationError("\(flag) \(path): no such file or directory") }
        guard type == .typeRegular || type == .typeDirectory else {
            throw ValidationError("\(flag) \(path) is \(describe(type)), not a checkpoint file or folder")
        }
        guard FileManager.default.isReadableFile(atPath: path) else { throw ValidationError("\(flag) \(path) is not readable") }
    }

    /// The type of what `path` names, following symbolic links; nil when nothing is there.
    static func fileType(_ path: String) -> FileAttributeType? {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: resolved) else { return nil }
        return attributes[.type] as? FileAttributeType
    }

    static func describe(_ type: FileAttributeType) -> String {
        switch type {
        case .typeDirectory: "a directory"
        case .typeRegular: "a file"
        case .typeCharacterSpecial: "a character device"
        case .typeBlockSpecial: "a block device"
        case .typeSocket: "a socket"
        case .typeSymbolicLink: "a dangling symbolic link"
        default: "a special file"
        }
    }
}

extension Engine {
    /// " | MKL feature dispatch" when in effect, else nothing: the end of the `|`-separated `miro bench` headers.
    static var benchHeaderTail: String { kernelNote.map { " | \($0)" } ?? "" }
}
