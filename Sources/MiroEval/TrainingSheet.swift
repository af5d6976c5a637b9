import Foundation
import MiroEngine
import MiroImage
import MiroPipeline
import MiroShapes
import MiroTraining

/// What each reward means, shown on the data itself: for every reward, a few training images from the low,
/// middle and high third of its score distribution, with their scores (and, for alignment, their captions —
/// that reward judges the image against its caption, so the image alone cannot show it).
public enum TrainingSheet {
    /// One row of the sheet: the training images of one third of one reward's scores.
    public struct Row: Sendable, Equatable {
        public var reward: String
        /// 0 = low third, 1 = middle, 2 = high.
        public var level: Int
        /// Indices into the training set, in increasing score.
        public var indices: [Int]
        /// The lowest and highest score of that third.
        public var range: ClosedRange<Float>
    }

    /// One sentence per Shapes reward, printed over its block.
    public static let meanings: [String: String] = [
        "alignment_score": "does the image show what its caption says?",
        "quality_score": "sharp, without noise or blocky artefacts",
        "colorfulness_score": "how saturated and varied the colours are",
        "compressibility_score": "how small the image compresses (flat areas)",
    ]

    static let levelNames = ["low third", "middle third", "high third"]

    /// For each of `keys` (that `scores` holds) and each third of its sorted scores, `perLevel` images at
    /// evenly spaced ranks inside the third (deterministic: the same data gives the same sheet).
    public static func rows(scores: [String: [Float]], keys: [String], perLevel: Int) -> [Row] {
        var rows: [Row] = []
        for key in keys {
            guard let values = scores[key], values.count >= 3, perLevel >= 1 else { continue }
            // NaN scores (none expected) sort last and stay out of the picks' ranks.
            let order = values.indices.filter { !values[$0].isNaN }.sorted { (values[$0], $0) < (values[$1], $1) }
            let n = order.count
            guard n >= 3 else { continue }
            for level in 0..<3 {
                let lo = level * n / 3, hi = (level + 1) * n / 3   // ranks lo..<hi
                let count = min(perLevel, hi - lo)
                let picks = (0..<count).map { j in order[lo + (2 * j + 1) * (hi - lo) / (2 * count)] }
                rows.append(Row(reward: key, level: level, indices: picks, range: values[order[lo]]...values[order[hi - 1]]))
            }
        }
        return rows
    }

    /// The sheet for `set`: one labelled block per reward, stacked.
    public static func render(_ set: ShapesTrainingSet, perLevel: Int = 5) throws -> RGBImage {
        let rows = rows(scores: set.scores, keys: set.rewardKeys, perLevel: perLevel)
        guard !rows.isEmpty else { throw InputError("the training sheet needs at least three scored training images") }
        var blocks: [RGBImage] = []
        for key in set.rewardKeys {
            let mine = rows.filter { $0.reward == key }
            guard !mine.isEmpty, let values = set.scores[key] else { continue }
            let indices = mine.flatMap(\.indices)
            let images = try set.pixelNormalization.decode(try set.x0.indexSelect(0, try Tensor(indices.map(Int64.init))))
            let alignment = key == AlignmentReward().name
            let captions = indices.map { i in
                String(format: "%.2f", values[i]) + (alignment ? ": " + set.captions[i] : "")
            }
            var title = ["\(SampleGrid.displayName(key)): \(meanings[key] ?? "")"]
            if alignment { title.append("under each image: its score and its caption") }
            let columns = mine.map(\.indices.count).max() ?? perLevel
            // Rows may hold fewer picks than `columns` (tiny sets): pad with blank cells so rows stay aligned.
            var padded: [RGBImage] = [], paddedCaptions: [String] = []
            var k = 0
            for row in mine {
                for j in 0..<columns {
                    if j < row.indices.count { padded.append(images[k]); paddedCaptions.append(captions[k]); k += 1 } else {
                        padded.append(RGBImage(width: images[0].width, height: images[0].height, fill: (1, 1, 1)))
                        paddedCaptions.append("")
                    }
                }
            }
            let labels = mine.map { "\(levelNames[$0.level])\n" + String(format: "%.2f - %.2f", $0.range.lowerBound, $0.range.upperBound) }
            blocks.append(try LabelledGrid(title: title, rowLabels: labels, captions: paddedCaptions,
                                           captionFontScale: alignment ? 1 : 2, columns: columns, scale: 4, fontScale: 2,
                                           margin: 4).render(padded))
        }
        let heading = ["Training images by reward level (\(set.count) Shapes images)",
                       "each row: \(perLevel) images from one third of a reward's scores, lowest to highest;",
                       "the number under each image is its score for that reward"]
        return try ImageGrid.stack([header(heading, width: blocks.map(\.width).max() ?? 0)] + blocks, spacing: 8)
    }

    /// A white strip with `lines`, the first one larger: the sheet's heading.
    static func header(_ lines: [String], width: Int) -> RGBImage {
        let first = BitmapFont.height(lines: 1, scale: 3)
        var image = RGBImage(width: max(width, BitmapFont.width(of: lines.first ?? "", scale: 3) + 8),
                             height: first + 8 + BitmapFont.height(lines: lines.count - 1, scale: 2) + 4, fill: (1, 1, 1))
        image.draw(text: lines.first ?? "", x: 4, y: 4, scale: 3, color: (0.1, 0.1, 0.1))
        image.draw(lines: Array(lines.dropFirst()), x: 4, y: first + 8, scale: 2, color: (0.1, 0.1, 0.1))
        return image
    }

    /// Renders the sheet and writes it atomically as PNG.
    public static func write(_ set: ShapesTrainingSet, to url: URL, perLevel: Int = 5) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNG.write(try render(set, perLevel: perLevel), to: url,
                      text: [PNGText("Description", "training images from the low, middle and high third of each reward's scores")])
    }
}
