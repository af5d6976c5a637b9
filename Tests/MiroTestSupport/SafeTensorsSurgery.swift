import Foundation

/// Edits a safetensors file in place the way a corrupted or tampered download would differ: the JSON
/// header rewritten (keys, dtypes, metadata; the data offsets stay valid because the buffer is
/// unchanged), or bytes of one tensor overwritten. Foundation only, so no reader check is bypassed.
public enum SafeTensorsSurgery {
    public static func split(_ url: URL) throws -> (header: [String: Any], buffer: Data) {
        let data = try Data(contentsOf: url)
        let n = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
        return (header, data.subdata(in: (8 + n)..<data.count))
    }

    /// Rewrites the header through `edit`.
    public static func editHeader(_ url: URL, _ edit: (inout [String: Any]) throws -> Void) throws {
        var (header, buffer) = try split(url)
        try edit(&header)
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data((0..<8).map { UInt8((json.count >> (8 * $0)) & 0xff) })
        out.append(json)
        out.append(buffer)
        try out.write(to: url)
    }

    /// Changes the dtype string of `tensor` (same byte length: F32 → I32).
    public static func relabel(_ url: URL, tensor: String, as dtype: String) throws {
        try editHeader(url) { header in
            var entry = header[tensor] as! [String: Any]
            entry["dtype"] = dtype
            header[tensor] = entry
        }
    }

    /// Sets metadata `key` (nil removes it).
    public static func setMetadata(_ url: URL, _ key: String, _ value: String?) throws {
        try editHeader(url) { header in
            var meta = header["__metadata__"] as? [String: String] ?? [:]
            meta[key] = value
            header["__metadata__"] = meta
        }
    }

    /// Edits the run configuration JSON stored in a checkpoint's `miro.config` metadata.
    public static func editRunConfig(_ url: URL, _ edit: (inout [String: Any]) -> Void) throws {
        try editHeader(url) { header in
            var meta = header["__metadata__"] as! [String: String]
            var config = try JSONSerialization.jsonObject(with: Data(meta["miro.config"]!.utf8)) as! [String: Any]
            edit(&config)
            meta["miro.config"] = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
            header["__metadata__"] = meta
        }
    }

    /// Overwrites the first element of every F32 tensor whose name starts with `prefix` with NaN;
    /// returns their names, sorted.
    @discardableResult
    public static func poison(_ url: URL, prefix: String) throws -> [String] {
        let data = try Data(contentsOf: url)
        let n = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        let (header, _) = try split(url)
        var out = data
        var poisoned: [String] = []
        for (name, value) in header where name.hasPrefix(prefix) {
            guard let entry = value as? [String: Any], entry["dtype"] as? String == "F32" else { continue }
            let offsets = entry["data_offsets"] as! [Int]
            guard offsets[1] - offsets[0] >= 4 else { continue }
            let at = 8 + n + offsets[0]
            withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { out.replaceSubrange(at..<(at + 4), with: $0) }
            poisoned.append(name)
        }
        try out.write(to: url)
        return poisoned.sorted()
    }

    /// Names of the tensors in the file (not `__metadata__`), sorted.
    public static func names(_ url: URL) throws -> [String] {
        try split(url).header.keys.filter { $0 != "__metadata__" }.sorted()
    }
}
