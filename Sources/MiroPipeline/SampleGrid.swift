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
        /// Short identifier, as stored in the PNG's metadata ("all-high", "only-quality_score").
        public var label: String
        /// What the row asks for, in words, as printed on the grid.
        public var caption: String
        public var positive: [String: Double]
        public var negative: [String: Double]
    }

    public static func rows(rewardKeys: [String]) -> [Row] {
        let ones = Dictionary(uniqueKeysWithValues: rewardKeys.map { ($0, 1.0) })
        let zeros = Dictionary(uniqueKeysWithValues: rewardKeys.map { ($0, 0.0) })
        var rows = [Row(label: "all-high", caption: "all rewards high\n(target 1, negative 0)", positive: ones, negative: zeros),
                    Row(label: "all-low", caption: "all rewards low\n(target 0, negative 1)", positive: zeros, negative: ones)]
        for k in rewardKeys {
            var neg = ones
            neg[k] = 0
            rows.append(Row(label: "only-\(k)", caption: "only \(displayName(k)) high\n(others cancel out)",
                            positive: ones, negative: neg))
        }
        return rows
    }

    /// A reward key as people say it: "quality_score" → "quality".
    public static func displayName(_ key: String) -> String {
        key.hasSuffix("_score") ? String(key.dropLast("_score".count)) : key
    }

    /// Renders the grid (×4 upscaled, labelled) and writes it as PNG with the settings in its metadata.
    @discardableResult
    public static func write(_ pipeline: ShapesPipeline, settings: ShapesPipeline.Settings, to url: URL,
                             prompts: [String] = prompts) throws -> [String] {
        var images: [RGBImage] = []
        var labels: [String] = []
        let rows = rows(rewardKeys: pipeline.rewardKeys)
        for row in rows {
            var s = settings
            s.rewardTargets = row.positive
            s.negativeRewardTargets = row.negative
            images += try pipeline.generate(prompts, settings: s)
            labels.append(row.label)
        }
        // Labelled so the sheet reads on its own: what each row asks for, the prompt over each column.
        let title = ["MIRO samples after \(pipeline.step) training steps",
                     "columns: prompts; rows: reward targets (the same noise in every row)",
                     "noise seed \(settings.seed), \(settings.steps) Euler steps, guidance \(settings.guidance)"]
        let grid = try LabelledGrid(title: title, rowLabels: rows.map(\.caption), columnLabels: prompts,
                                    columns: prompts.count, scale: 4, fontScale: 2, margin: 4).render(images)
        let info: [String: Any] = ["rows": labels, "columns": prompts, "seed": settings.seed, "steps": settings.steps,
                                   "guidance": settings.guidance, "step": pipeline.step,
                                   "negative_text": settings.negativeText.rawValue]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: info, options: [.sortedKeys]), as: UTF8.self)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNG.write(grid, to: url, text: [PNGText("miro", json), PNGText("Description", "rows: " + labels.joined(separator: ", "))])
        return labels
    }
}
