/// Reading the JSON configuration files of the reward models (a CLIP `config.json`, an open_clip model config)
/// with errors that name the file and the field.

import Foundation
import MiroFormats

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
            throw RewardModelError.file(path: url.path, reason: error.configFieldDescription)
        } catch {
            throw RewardModelError.file(path: url.path, reason: "\(error)")
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
