import Foundation

/// One tensor's fingerprint for `miro inspect`: enough to compare a checkpoint against PyTorch's
/// `t.double().sum()` / `t.double().abs().sum()` without dumping weights.
public struct TensorSummary: Codable, Equatable, Sendable {
    public var name: String
    /// The dtype as the file spells it: `"F32"`, `"BF16"` for safetensors, `"<f4"`, `"|b1"` for `.npy`.
    public var dtype: String
    public var shape: [Int]
    /// Sum of all elements, accumulated in `Double` in C order.
    public var sum: Double
    /// Sum of absolute values, accumulated in `Double` in C order.
    public var absSum: Double

    enum CodingKeys: String, CodingKey {
        case name, dtype, shape, sum
        case absSum = "abs_sum"
    }

    public init(name: String, dtype: String, shape: [Int], sum: Double, absSum: Double) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.sum = sum
        self.absSum = absSum
    }
}

/// Summaries of every tensor in a `.safetensors`, sharded `.safetensors.index.json` or `.npy` file, and the
/// renderings behind `miro inspect FILE [--json]`.
public enum TensorFileSummary {
    /// Reads `url` (dispatching on its name) and sums every tensor. Tensors come in file order (safetensors),
    /// sorted by name (sharded), or as one tensor named after the file's stem (`.npy`, no metadata).
    /// Packed sub-byte (F4, F6_*) and complex tensors cannot be summed and raise ``FormatError/unsupported(path:message:)``.
    public static func summarize(url: URL) throws -> (tensors: [TensorSummary], metadata: [String: String]) {
        let name = url.lastPathComponent
        if SafeTensorsIndex.isIndexFile(url) {
            let index = try SafeTensorsIndex(contentsOf: url)
            let tensors = try index.names.map { tensor -> TensorSummary in
                guard let file = index.file(for: tensor) else { throw FormatError.tensorNotFound(path: displayPath(url), name: tensor) }
                return try summary(of: tensor, in: file)
            }
            return (tensors, index.metadata)
        }
        if name.hasSuffix(".safetensors") {
            let file = try SafeTensorsFile(contentsOf: url)
            return (try file.names.map { try summary(of: $0, in: file) }, file.metadata)
        }
        if name.hasSuffix(".npy") {
            let array = try NPYArray(contentsOf: url)
            let (sum, absSum) = try array.data.withUnsafeBytes {
                try sums(array.dtype.safeTensorsDType, $0, path: displayPath(url), tensor: name)
            }
            let stem = url.deletingPathExtension().lastPathComponent
            return ([TensorSummary(name: stem, dtype: array.dtype.rawValue, shape: array.shape, sum: sum, absSum: absSum)], [:])
        }
        throw FormatError.unsupported(
            path: displayPath(url), message: "unknown file type (expected .safetensors, .safetensors.index.json or .npy)")
    }

    /// `{"tensors":[{"name","dtype","shape","sum","abs_sum"}],"metadata":{}}` with keys in that order and metadata
    /// keys sorted. Non-finite sums (a tensor holding NaN or inf) are written as `null`, since JSON has no NaN.
    public static func jsonString(tensors: [TensorSummary], metadata: [String: String]) -> String {
        let items: [PythonJSON] = tensors.map { t in
            .object([
                ("name", .string(t.name)), ("dtype", .string(t.dtype)), ("shape", .array(t.shape.map { .int($0) })),
                ("sum", jsonNumber(t.sum)), ("abs_sum", jsonNumber(t.absSum)),
            ])
        }
        let meta = metadata.keys.sorted().map { (key: $0, value: PythonJSON.string(metadata[$0] ?? "")) }
        return PythonJSON.object([("tensors", .array(items)), ("metadata", .object(meta))])
            .dumps(separators: (",", ":"), ensureASCII: false)
    }

    /// An aligned table (name, dtype, shape, sum, abs_sum), a count line, then `metadata:` lines. Long metadata
    /// values (Miro stores whole JSON configs there) are cut to `maxMetadataWidth` characters; `--json` has them whole.
    public static func render(tensors: [TensorSummary], metadata: [String: String], maxMetadataWidth: Int = 100) -> String {
        let header = ["name", "dtype", "shape", "sum", "abs_sum"]
        let rows = tensors.map { [$0.name, $0.dtype, shapeString($0.shape), number($0.sum), number($0.absSum)] }
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i >= 3 ? pad + cell : cell + pad  // numbers right-aligned
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        var lines = [line(header), line(widths.map { String(repeating: "-", count: $0) })]
        lines += rows.map(line)
        let totalElements = tensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
        lines.append("\(tensors.count) tensor\(tensors.count == 1 ? "" : "s"), \(totalElements) elements")
        if !metadata.isEmpty {
            lines.append("metadata:")
            for key in metadata.keys.sorted() {
                let value = metadata[key] ?? ""
                let shown = value.count > maxMetadataWidth
                    ? String(value.prefix(maxMetadataWidth)) + "… (\(value.count) chars)" : value
                lines.append("  \(key): \(shown.replacingOccurrences(of: "\n", with: "\\n"))")
            }
        }
        return lines.joined(separator: "\n")
    }

    // MARK: - Helpers

    public static func summary(of name: String, in file: SafeTensorsFile) throws -> TensorSummary {
        guard let entry = file.entry(name) else { throw FormatError.tensorNotFound(path: file.path, name: name) }
        let (sum, absSum) = try file.withBytes(name) { try sums(entry.dtype, $0, path: file.path, tensor: name) }
        return TensorSummary(name: name, dtype: entry.dtype.rawValue, shape: entry.shape, sum: sum, absSum: absSum)
    }

    static func sums(_ dtype: SafeTensorsDType, _ raw: UnsafeRawBufferPointer, path: String, tensor: String) throws -> (Double, Double) {
        var sum = 0.0, absSum = 0.0
        try ElementDecoding.forEach(dtype, in: raw, path: path, tensor: tensor) { value in
            sum += value
            absSum += abs(value)
        }
        return (sum, absSum)
    }

    /// Shortest round-tripping decimal (Swift's `description`), which is valid JSON for finite values.
    private static func jsonNumber(_ value: Double) -> PythonJSON {
        value.isFinite ? .number("\(value)") : .null
    }

    /// Table cells: up to 8 significant digits, so columns stay narrow but differences still show.
    private static func number(_ value: Double) -> String {
        String(format: "%.8g", value)
    }
}
