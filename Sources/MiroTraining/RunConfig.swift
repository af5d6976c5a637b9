import Foundation
import MiroData
import MiroModels

/// Everything that defines a run, stored as JSON in every checkpoint (`miro.config`) and as
/// `run.json` in the run directory.
public struct RunConfig: Codable, Sendable, Equatable {
    public struct Dataset: Codable, Sendable, Equatable {
        public var name = "shapes"
        public var count = 8000
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct TextEncoder: Codable, Sendable, Equatable {
        public var name = "shapes"
        public var width = 64
        public var maxTokens = 16
        public init() {}
    }

    public var train = TrainConfig()
    public var network = MIROConfig.tiny
    public var dataset = Dataset()
    public var textEncoder = TextEncoder()
    /// Filled in from the data when the run starts.
    public var normalization: PixelNormalization? = nil

    public init() {}

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public static func decode(_ text: String, source: String) throws -> RunConfig {
        do {
            return try JSONDecoder().decode(RunConfig.self, from: Data(text.utf8))
        } catch {
            throw TrainingError.badConfig("\(source): cannot read the run configuration: \(error)")
        }
    }

    /// Model presets by name.
    public static func preset(_ name: String, rewardKeys: [String], labelDim: Int) throws -> MIROConfig {
        switch name {
        case "tiny": return MIROConfig.tiny(rewardKeys: rewardKeys, inputChannels: 3, labelDim: labelDim)
        case "small":
            var c = MIROConfig.small
            c.coherenceKeys = rewardKeys; c.labelDim = labelDim; c.numInputChannels = 3; c.patchSize = 4
            return c
        case "miro":
            var c = MIROConfig.miro
            c.coherenceKeys = rewardKeys; c.labelDim = labelDim; c.numInputChannels = 3; c.patchSize = 4
            return c
        default: throw TrainingError.badConfig("unknown preset '\(name)'; choose tiny, small or miro")
        }
    }
}

public enum TrainingError: Error, CustomStringConvertible {
    case badConfig(String)
    case nonFiniteLoss(step: Int, count: Int)
    case missingCheckpoint(String)

    public var description: String {
        switch self {
        case .badConfig(let m): m
        case .nonFiniteLoss(let step, let count): "training stopped at step \(step): \(count) consecutive non-finite losses"
        case .missingCheckpoint(let m): m
        }
    }
}
