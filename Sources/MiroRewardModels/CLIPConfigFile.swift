/// Reading the JSON configuration files of the reward models (a CLIP `config.json`, an open_clip model config)
/// with errors that name the file and the field.

import Foundation

enum CLIPConfigFile {
    /// Decodes `url` as `T`, turning I/O and decoding failures into `RewardModelError.file`.
    static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            let missing = !FileManager.default.fileExists(atPath: url.path)
            throw RewardModelError.file(path: url.path, reason: missing ? "no such file" : "cannot be read (\(error.localizedDescription))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw RewardModelError.file(path: url.path, reason: describe(error))
        } catch {
            throw RewardModelError.file(path: url.path, reason: "\(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func field(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "the top level" : "'" + path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") + "'"
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "field \(field(context.codingPath)) must be \(type): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "field \(field(context.codingPath)) must be \(type), found null"
        case .keyNotFound(let key, let context):
            return "missing field '\(key.stringValue)' in \(field(context.codingPath))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? "not valid JSON (\(context.underlyingError.map { "\($0)" } ?? context.debugDescription))"
                : "field \(field(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

extension CLIPConfig {
    /// Reads and validates a CLIP `config.json` (`model_type` must be `clip` when present).
    public static func load(_ url: URL) throws -> CLIPConfig {
        let config = try CLIPConfigFile.decode(CLIPConfig.self, from: url)
        if let type = config.modelType, type != "clip" {
            throw RewardModelError.file(path: url.path, reason: "model_type '\(type)' is not a CLIPModel (expected 'clip')")
        }
        try config.validate(path: url.path)
        return config
    }
}
