/// Tiles images into one sheet (a sample grid per training step, a row per reward setting).
public enum ImageGrid {
    /// Lays `images` out row by row in `columns` columns, each cell the size of the largest image × `scale`
    /// (nearest-neighbour, so 32×32 samples stay crisp at ×4), with `margin` pixels of `background` around and
    /// between cells. Smaller images sit at their cell's top-left.
    public static func tile(_ images: [RGBImage], columns: Int, margin: Int = 2, scale: Int = 1,
                            background: (Float, Float, Float) = (1, 1, 1)) throws -> RGBImage {
        guard !images.isEmpty else { throw ImageError.invalidArgument("an image grid needs at least one image") }
        guard columns >= 1, margin >= 0, scale >= 1 else {
            throw ImageError.invalidArgument(
                "image grid: columns and scale must be ≥ 1 and margin ≥ 0 (got \(columns), \(scale), \(margin))")
        }
        let cols = min(columns, images.count)
        let rows = (images.count + cols - 1) / cols
        let cellW = images.map(\.width).max()! * scale, cellH = images.map(\.height).max()! * scale
        var sheet = RGBImage(width: cols * cellW + (cols + 1) * margin, height: rows * cellH + (rows + 1) * margin,
                             fill: background)
        for (n, image) in images.enumerated() {
            let big = image.upscaled(by: scale)
            let ox = margin + (n % cols) * (cellW + margin), oy = margin + (n / cols) * (cellH + margin)
            sheet.paste(big, x: ox, y: oy)
        }
        return sheet
    }

    /// `images` one under another, each at its own size (left-aligned), `spacing` pixels of `background`
    /// around and between them: sheets of different heights stay tight, where `tile` would give every one
    /// the tallest one's cell.
    public static func stack(_ images: [RGBImage], spacing: Int = 8, background: (Float, Float, Float) = (1, 1, 1)) throws -> RGBImage {
        guard !images.isEmpty else { throw ImageError.invalidArgument("a stack needs at least one image") }
        guard (0...4096).contains(spacing) else { throw ImageError.invalidArgument("stack spacing must be in 0…4096, got \(spacing)") }
        let width = images.map(\.width).max()! + 2 * spacing
        let height = images.reduce(spacing) { $0 + $1.height + spacing }
        var sheet = RGBImage(width: width, height: height, fill: background)
        var oy = spacing
        for image in images {
            for y in 0..<image.height {
                let src = 3 * y * image.width, dst = 3 * ((oy + y) * width + spacing)
                sheet.pixels.replaceSubrange(dst..<(dst + 3 * image.width), with: image.pixels[src..<(src + 3 * image.width)])
            }
            oy += image.height + spacing
        }
        return sheet
    }
}
