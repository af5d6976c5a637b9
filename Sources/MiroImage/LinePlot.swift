/// A minimal line chart: axes and polylines on a white 240×160 canvas (the CSV carries the numbers).
public enum LinePlot {
    public static func render(series: [([(Double, Double)], (Float, Float, Float))], width: Int = 240, height: Int = 160) -> RGBImage {
        var image = RGBImage(width: width, height: height, fill: (1, 1, 1))
        let points = series.flatMap(\.0).filter { $0.1.isFinite }
        guard let x0 = points.map(\.0).min(), let x1 = points.map(\.0).max(),
              var y0 = points.map(\.1).min(), var y1 = points.map(\.1).max() else { return image }
        if y1 - y0 < 1e-9 { y0 -= 0.5; y1 += 0.5 }
        let pad = 12
        func px(_ x: Double) -> Int { pad + Int(Double(width - 2 * pad) * (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5)) }
        func py(_ y: Double) -> Int { height - pad - Int(Double(height - 2 * pad) * (y - y0) / (y1 - y0)) }
        func set(_ x: Int, _ y: Int, _ c: (Float, Float, Float)) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let i = 3 * (y * width + x)
            image.pixels[i] = c.0; image.pixels[i + 1] = c.1; image.pixels[i + 2] = c.2
        }
        for x in pad...(width - pad) { set(x, height - pad, (0, 0, 0)) }
        for y in pad...(height - pad) { set(pad, y, (0, 0, 0)) }
        for (line, color) in series {
            let pts = line.filter { $0.1.isFinite }
            for (a, b) in zip(pts, pts.dropFirst()) {
                let (ax, ay, bx, by) = (px(a.0), py(a.1), px(b.0), py(b.1))
                let n = max(abs(bx - ax), abs(by - ay), 1)
                for k in 0...n {
                    let x = ax + (bx - ax) * k / n, y = ay + (by - ay) * k / n
                    set(x, y, color); set(x, y + 1, color)
                }
            }
            for p in pts { for dx in -2...2 { for dy in -2...2 { set(px(p.0) + dx, py(p.1) + dy, color) } } }
        }
        return image
    }
}
