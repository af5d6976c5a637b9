import Foundation

/// Image files → 8-bit RGB, as MIRO's data preparation reads them (`PIL.Image.open(f).convert("RGB")`, EXIF
/// orientation ignored). The format is chosen by the file's first bytes, not its name, as Pillow does.
public enum ImageDecoder {
    /// The formats recognised by their magic bytes.
    public enum Format: String, Sendable { case jpeg, png }

    /// The format of `data` from its first bytes, or nil.
    public static func format(of data: [UInt8]) -> Format? {
        if data.count >= 3, data[0] == 0xFF, data[1] == 0xD8, data[2] == 0xFF { return .jpeg }
        if data.count >= 8, Array(data[0..<8]) == PNG.signature { return .png }
        return nil
    }

    /// Decodes a JPEG or PNG file's bytes. `name` (a path or a shard member) is what every error names.
    public static func decode(_ data: [UInt8], name: String) throws -> RGBImage8 {
        switch format(of: data) {
        case .jpeg:
            return try JPEGDecoder.decode(data, name: name)
        case .png:
            do {
                return try PNGReader.decode(Data(data)).rgbImage8
            } catch let error as ImageError {
                throw ImageError.decode(file: name, message: "\(error)")
            }
        case nil:
            let head = data.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw ImageError.decode(file: name, message: data.isEmpty ? "the file is empty"
                : "not a JPEG or PNG file (first bytes \(head))")
        }
    }

    public static func decode(_ data: Data, name: String) throws -> RGBImage8 {
        try decode([UInt8](data), name: name)
    }

    /// Reads and decodes the file at `path`.
    public static func decode(contentsOf path: String) throws -> RGBImage8 {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ImageError.io(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        return try decode([UInt8](data), name: path)
    }
}
