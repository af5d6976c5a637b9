// The resumable output folder of `miro annotate` / `miro prepare` (no official counterpart: data/preprocess_data.py
// rewrites every CSV and tar on each run). It owns the run manifest, the per-unit completion markers and the
// cleaning of its own interrupted temporary files.
import Foundation
import MiroFormats

/// An output folder and its work directory `<out>/.miro-<command>/` (manifest, per-shard results, markers).
///
/// Rules, so that a rerun after a kill finishes the same run and nothing of the user's is lost:
/// - a new or empty folder is taken and the manifest (the command, its options and the inputs' fingerprint)
///   written first;
/// - a folder with a manifest is a previous run: it is continued only when the manifest is the same, and refused
///   otherwise, naming the first field that differs;
/// - any other non-empty folder is refused;
/// - only files this command writes are ever replaced or removed: its outputs, and temporary files named like
///   `AtomicFile`'s (`.<own output name>.<UUID>.tmp`).
struct OutputFolder {
    let output: URL
    let work: URL
    let command: String

    var manifestURL: URL { work.appendingPathComponent("manifest.json") }
    var markers: URL { work.appendingPathComponent("done") }
    var scores: URL { work.appendingPathComponent("scores") }

    /// Opens (or creates) `output` for `command` with `manifest`; `ownNames` are the output files the run writes
    /// directly in `output` (its shards, its summary), whose leftover temporary files it may remove.
    static func open(_ output: URL, command: String, manifest: PythonJSON, ownNames: Set<String>) throws -> OutputFolder {
        let fm = FileManager.default
        let folder = OutputFolder(output: output, work: output.appendingPathComponent(".miro-\(command)"), command: command)
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: output.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw DataPrepError.output(path: output.path, reason: "is a file, not a folder") }
        }
        let text = manifest.dumps(indent: 2) + "\n"
        if let previous = fm.contents(atPath: folder.manifestURL.path) {
            guard previous != Data(text.utf8) else {
                try folder.removeOwnTemporaries(ownNames: ownNames)
                return folder
            }
            let field = (try? PythonJSON.parse([UInt8](previous))).map { Self.firstDifference($0, manifest) } ?? "the manifest is unreadable"
            throw DataPrepError.output(path: output.path, reason: "holds a previous `miro \(command)` run with other options or inputs "
                + "(\(field)); rerun it with the same ones, or choose a new folder")
        }
        let entries = ((try? fm.contentsOfDirectory(atPath: output.path)) ?? []).filter { $0 != ".miro-\(command)" }.sorted()
        guard entries.isEmpty else {
            let shown = entries.prefix(5).joined(separator: ", ") + (entries.count > 5 ? ", … (\(entries.count) in all)" : "")
            throw DataPrepError.output(path: output.path, reason: "is not empty and holds no `miro \(command)` run (\(shown)); "
                + "choose an empty or new folder")
        }
        do {
            for dir in [folder.work, folder.markers, folder.scores] { try fm.createDirectory(at: dir, withIntermediateDirectories: true) }
            try AtomicFile.write(Data(text.utf8), to: folder.manifestURL)
        } catch {
            throw DataPrepError.output(path: output.path, reason: "cannot create the output folder (\(error))")
        }
        return folder
    }

    /// The first top-level manifest field whose value differs, for the refusal message.
    static func firstDifference(_ old: PythonJSON, _ new: PythonJSON) -> String {
        let a = old.members ?? [], b = new.members ?? []
        for (key, value) in b where a.last(where: { $0.key == key })?.value != value {
            return "'\(key)' differs"
        }
        return "the manifest differs"
    }

    /// Removes `AtomicFile` temporaries a killed run left behind: in the work directory all of them, in the
    /// output folder only those of `ownNames`.
    func removeOwnTemporaries(ownNames: Set<String>) throws {
        let fm = FileManager.default
        for dir in [work, markers, scores] {
            for name in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] where Self.temporaryTarget(name) != nil {
                try? fm.removeItem(at: dir.appendingPathComponent(name))
            }
        }
        for name in (try? fm.contentsOfDirectory(atPath: output.path)) ?? [] {
            if let target = Self.temporaryTarget(name), ownNames.contains(target) {
                try? fm.removeItem(at: output.appendingPathComponent(name))
            }
        }
    }

    /// `.<target>.<UUID>.tmp` → target (the naming of `AtomicFile.write`).
    static func temporaryTarget(_ name: String) -> String? {
        guard name.hasPrefix("."), name.hasSuffix(".tmp") else { return nil }
        let inner = name.dropFirst().dropLast(4)
        guard let dot = inner.lastIndex(of: "."), UUID(uuidString: String(inner[inner.index(after: dot)...])) != nil else { return nil }
        return String(inner[..<dot])
    }

    // MARK: - Markers

    func marker(_ unit: String) -> URL { markers.appendingPathComponent(unit) }

    func isDone(_ unit: String) -> Bool { FileManager.default.fileExists(atPath: marker(unit).path) }

    /// An output shard is finished when its marker exists and the shard is still there (a user may delete one
    /// shard to have it rewritten).
    func isWritten(_ shard: String) -> Bool {
        isDone(shard) && FileManager.default.fileExists(atPath: output.appendingPathComponent(shard).path)
    }

    /// Written after the unit's own files are in place: a unit is finished exactly when its marker exists.
    func markDone(_ unit: String, _ info: PythonJSON) throws {
        try write(Data((info.dumps() + "\n").utf8), to: marker(unit))
    }

    func write(_ data: Data, to url: URL) throws {
        do { try AtomicFile.write(data, to: url) } catch {
            throw DataPrepError.output(path: url.path, reason: "cannot write (\(error))")
        }
    }
}

/// The JSON merge of stage `vae` (rewards.md §4.3): new keys are set in sorted order (the CSV's column order);
/// a key already present keeps its place and takes the new value, as assigning into a Python dict does.
enum SampleJSON {
    static func merged(_ metadata: [(key: String, value: PythonJSON)], adding: [(key: String, value: PythonJSON)]) -> PythonJSON {
        // `json.loads` keeps a repeated key at its first place with its last value.
        var order: [String] = []
        var values: [String: PythonJSON] = [:]
        for (key, value) in metadata {
            if values[key] == nil { order.append(key) }
            values[key] = canonical(value)
        }
        for (key, value) in adding.sorted(by: { pythonStringLess($0.key, $1.key) }) {
            if values[key] == nil { order.append(key) }
            values[key] = value
        }
        return .object(order.map { ($0, values[$0] ?? .null) })
    }

    /// A value as `json.dumps(json.loads(...))` writes it back: floats in `repr` form, ints as `str(int)`.
    static func canonical(_ value: PythonJSON) -> PythonJSON {
        switch value {
        case .number:
            if value.isInteger { return value.integer.map { .int($0) } ?? value }
            return value.double.map { .float($0) } ?? value
        case .array(let items): return .array(items.map(canonical))
        case .object(let members): return .object(members.map { ($0.key, canonical($0.value)) })
        default: return value
        }
    }
}
