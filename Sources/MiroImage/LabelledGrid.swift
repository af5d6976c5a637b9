/// An image grid that explains itself: a title, a label left of every row, a heading over every column and,
/// optionally, a caption under every cell, all in the built-in bitmap font. The demo's sample grids and
/// training sheet use it so a reader needs no README to know what a row or column means.
public struct LabelledGrid: Sendable {
    /// Lines at the top, the first one larger.
    public var title: [String]
    /// One label per row (may hold "\n"); missing labels are blank.
    public var rowLabels: [String]
    /// One heading per column, wrapped to the cell width; empty for none.
    public var columnLabels: [String]
    /// One caption per image, under its cell (e.g. its score), wrapped to the cell width, at most
    /// `maxCaptionLines` lines; nil for none.
    public var captions: [String]?
    /// Size of caption text; nil: `fontScale` (1 fits a sentence under a 128-pixel cell).
    public var captionFontScale: Int?
    public static let maxCaptionLines = 4
    public var columns: Int
    /// Nearest-neighbour enlargement of each image (32×32 samples stay crisp).
    public var scale: Int
    /// Size of label text: each font pixel becomes `fontScale`×`fontScale` (2 → 10×14-pixel glyphs).
    public var fontScale: Int
    /// Space around and between cells, in pixels.
    public var margin: Int

    public init(title: [String], rowLabels: [String], columnLabels: [String] = [], captions: [String]? = nil,
                captionFontScale: Int? = nil, columns: Int, scale: Int = 4, fontScale: Int = 2, margin: Int = 4) {
        self.captionFontScale = captionFontScale
        self.title = title
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.captions = captions
        self.columns = columns
        self.scale = scale
        self.fontScale = fontScale
        self.margin = margin
    }

    static let ink: (Float, Float, Float) = (0.1, 0.1, 0.1)
    static let faint: (Float, Float, Float) = (0.35, 0.35, 0.35)

    /// The labelled sheet: `images` row by row in `columns` columns on white.
    public func render(_ images: [RGBImage]) throws -> RGBImage {
        guard !images.isEmpty else { throw ImageError.invalidArgument("a labelled grid needs at least one image") }
        guard columns >= 1, scale >= 1, fontScale >= 1, margin >= 0, scale <= 64, fontScale <= 16, margin <= 256 else {
            throw ImageError.invalidArgument("labelled grid: columns, scale and font scale must be ≥ 1 (scale ≤ 64, font ≤ 16) "
                + "and margin in 0…256 (got \(columns), \(scale), \(fontScale), \(margin))")
        }
        if let captions, captions.count != images.count {
            throw ImageError.invalidArgument("labelled grid: \(captions.count) captions for \(images.count) images")
        }
        let cols = min(columns, images.count)
        let rows = (images.count + cols - 1) / cols
        let cellW = images.map(\.width).max()! * scale, cellH = images.map(\.height).max()! * scale
        let f = fontScale
        let line = BitmapFont.lineHeight * f
        // Row labels are wrapped to at most 26 characters so one long label cannot squeeze the images out.
        let labelLines = (0..<rows).map { r in
            r < rowLabels.count ? BitmapFont.wrap(rowLabels[r], maxWidth: 26 * BitmapFont.advance * f, scale: f) : []
        }
        let labelW = labelLines.flatMap { $0 }.map { BitmapFont.width(of: $0, scale: f) }.max().map { $0 + 2 * margin } ?? 0
        let headLines = (0..<cols).map { c in
            c < columnLabels.count ? BitmapFont.wrap(columnLabels[c], maxWidth: cellW, scale: f) : []
        }
        let headH = headLines.map(\.count).max().map { $0 > 0 ? BitmapFont.height(lines: $0, scale: f) + margin : 0 } ?? 0
        let cf = min(max(captionFontScale ?? f, 1), 16)
        let captionLines = (captions ?? []).map { Array(BitmapFont.wrap($0, maxWidth: cellW, scale: cf).prefix(Self.maxCaptionLines)) }
        let captionH = captionLines.map(\.count).max().map { BitmapFont.height(lines: $0, scale: cf) + margin } ?? 0
        let titleScale = f + 1
        let titleH = title.isEmpty ? 0 : BitmapFont.height(lines: 1, scale: titleScale)
            + (title.count - 1) * line + 2 * margin
        let width = max(labelW + cols * (cellW + margin) + margin,
                        (title.map { BitmapFont.width(of: $0, scale: f) }.max() ?? 0) + 2 * margin,
                        BitmapFont.width(of: title.first ?? "", scale: titleScale) + 2 * margin)
        let rowH = cellH + captionH + margin
        var sheet = RGBImage(width: width, height: titleH + headH + rows * rowH + margin, fill: (1, 1, 1))

        if let first = title.first {
            sheet.draw(text: first, x: margin, y: margin, scale: titleScale, color: Self.ink)
            sheet.draw(lines: Array(title.dropFirst()), x: margin,
                       y: margin + BitmapFont.height(lines: 1, scale: titleScale) + (line - BitmapFont.cellHeight * f),
                       scale: f, color: Self.faint)
        }
        let top = titleH + headH
        for (c, lines) in headLines.enumerated() {
            let x = labelW + margin + c * (cellW + margin)
            // Headings sit on the cells: bottom-aligned, so short and long prompts end at the same line.
            let y = top - margin - BitmapFont.height(lines: lines.count, scale: f)
            sheet.draw(lines: lines, x: x, y: y, scale: f, color: Self.ink, centeredIn: cellW)
        }
        for r in 0..<rows {
            let y = top + margin + r * rowH
            let lines = labelLines[r]
            let ly = y + max(0, (cellH - BitmapFont.height(lines: lines.count, scale: f)) / 2)
            sheet.draw(lines: lines, x: margin, y: ly, scale: f, color: Self.ink)
        }
        for (n, image) in images.enumerated() {
            let big = image.upscaled(by: scale)
            let ox = labelW + margin + (n % cols) * (cellW + margin), oy = top + margin + (n / cols) * rowH
            sheet.paste(big, x: ox, y: oy)
            if n < captionLines.count {
                sheet.draw(lines: captionLines[n], x: ox, y: oy + cellH + margin / 2, scale: cf, color: Self.faint, centeredIn: cellW)
            }
        }
        return sheet
    }
}
