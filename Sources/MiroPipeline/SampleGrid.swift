import Foundation
import MiroImage

/// Sample grids during and after training: one column per fixed prompt, one row per reward
/// setting — all rewards high, all low, and each reward isolated (s⁺ all 1; s⁻ all 1 except that
/// reward at 0, so only its direction remains, method §7.3).
public enum SampleGrid {
    public static let prompts = [
        "a red circle", "a blue square and a yellow triangle", "three green circles",
        "a purple triangle to the left of a red square", "a yellow circle", "two blue triangles",
    ]

    public struct Row: Sendable {
        public var label: String
        public var positive: [String: Double]
        public var negative: [String: Double]
    }

    public static func rows(rewardKeys: [String]) -> [Row] {
        let ones = Dictionary(uniqueKeysWithValues: rewardKeys.map { ($0, 1.0) })
        let zeros = Dictionary(uniqueKeysWithValues: rewardKeys.map { ($0, 0.0) })
        var rows = [Row(label: "all-high", positive: ones, negative: zeros),
                    Row(label: "all-low", positive: zeros, negative: ones)]
        for k in rewardKeys {
            var neg = ones
            neg[k] = 0
            rows.append(Row(label: "only-\(k)", positive: ones, negative: neg))
        }
        return rows
    }

    /// Renders the grid (×4 upscaled) and writes it as PNG with the settings in its metadata.
    @discardableResult
    public static func write(_ pipeline: ShapesPipeline, settings: ShapesPipeline.Settings, to url: URL,
                             prompts: [String] = prompts) throws -> [String] {
        var images: [RGBImage] = []
        var labels: [String] = []
        for row in rows(rewardKeys: pipeline.rewardKeys) {
            var s = settings
            s.rewardTargets = row.positive
            s.negativeRewardTargets = row.negative
            images += try pipeline.generate(prompts, settings: s)
            labels.append(row.label)
        }
        let grid = try ImageGrid.tile(images, columns: prompts.count, margin: 2, scale: 4)
        let info: [String: Any] = ["rows": labels, "columns": prompts, "seed": settings.seed, "steps": settings.steps,
                                   "guidance": settings.guidance, "step": pipeline.step,
                                   "negative_text": settings.negativeText.rawValue]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: info, options: [.sortedKeys]), as: UTF8.self)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNG.write(grid, to: url, text: [PNGText("miro", json), PNGText("Description", "rows: " + labels.joined(separator: ", "))])
        return labels
    }
}
