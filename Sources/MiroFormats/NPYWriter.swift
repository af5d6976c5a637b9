import Foundation

extension NPYArray {
    /// numpy's `ARRAY_ALIGN`: magic + length field + header end on a 64-byte boundary so data can be mapped.
    static let arrayAlign = 64
    /// numpy's `GROWTH_AXIS_MAX_DIGITS`: spare spaces so the first dimension can grow in place when appending.
    static let growthAxisMaxDigits = 21

    /// The `.npy` bytes `np.save` (numpy 1.24) writes for this array: format 1.0, or 2.0 when the header does
    /// not fit a 16-bit length.
    public func serialize() -> Data {
        serialize(minimumVersion: .v1)
    }

    /// Like ``serialize()`` but never below `minimumVersion` (numpy's `write_array(..., version=(2, 0))`).
    /// A 1.0 request is upgraded to 2.0 when the header is too long for 1.0, as numpy does when no version is given.
    public func serialize(minimumVersion: NPYFormatVersion) -> Data {
        // numpy: "{" + "'%s': %r, " for each key in sorted order + "}" then growth padding.
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(pythonTuple(shape)), }"
        if let first = shape.first {
            header += String(repeating: " ", count: max(0, Self.growthAxisMaxDigits - String(first).count))
        }
        let headerBytes = Array(header.utf8)
        var version = minimumVersion
        var (lengthField, padding) = Self.wrap(headerCount: headerBytes.count, version: version)
        if version == .v1 && lengthField > Int(UInt16.max) {
            version = .v2
            (lengthField, padding) = Self.wrap(headerCount: headerBytes.count, version: version)
        }

        var out = Data(Self.magic + [version.rawValue, 0])
        let lengthSize = version == .v1 ? 2 : 4
        out.append(contentsOf: (0..<lengthSize).map { UInt8(truncatingIfNeeded: lengthField >> (8 * $0)) })
        out.append(contentsOf: headerBytes)
        out.append(contentsOf: [UInt8](repeating: 0x20, count: padding))
        out.append(0x0A)
        out.append(data)
        return out
    }

    /// Writes the file atomically (temporary file in the same directory, then rename).
    public func write(to url: URL) throws {
        try AtomicFile.write(serialize(), to: url)
    }

    /// numpy's `_wrap_header`: the stored length counts header + padding + the final `\n`. Note the padding is
    /// `ARRAY_ALIGN - (total % ARRAY_ALIGN)`, so an already aligned header still gets 64 spaces — copied exactly
    /// to stay byte-identical.
    private static func wrap(headerCount: Int, version: NPYFormatVersion) -> (lengthField: Int, padding: Int) {
        let prefix = 6 + 2 + (version == .v1 ? 2 : 4)
        let withNewline = headerCount + 1
        let padding = arrayAlign - ((prefix + withNewline) % arrayAlign)
        return (withNewline + padding, padding)
    }
}
