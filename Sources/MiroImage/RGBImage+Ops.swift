/// Small pixel operations shared by the generator, the degradations and the rewards.
extension RGBImage {
    /// Copies `image` into this one with its top-left corner at (x, y); the caller keeps it inside.
    public mutating func paste(_ image: RGBImage, x ox: Int, y oy: Int) {
        for y in 0..<image.height {
            for x in 0..<image.width {
                let src = 3 * (y * image.width + x), dst = 3 * ((oy + y) * width + ox + x)
                pixels[dst] = image.pixels[src]
                pixels[dst + 1] = image.pixels[src + 1]
                pixels[dst + 2] = image.pixels[src + 2]
            }
        }
    }

    /// Clamps every value into [0, 1] (NaN becomes 0).
    public mutating func clamp() {
        for i in pixels.indices {
            let v = pixels[i]
            pixels[i] = v.isNaN ? 0 : min(max(v, 0), 1)
        }
    }

    /// Rec. 601 luma (0.299 R + 0.587 G + 0.114 B), one value per pixel.
    public func luminance() -> [Float] {
        var out = [Float](repeating: 0, count: width * height)
        for i in out.indices {
            out[i] = 0.299 * pixels[3 * i] + 0.587 * pixels[3 * i + 1] + 0.114 * pixels[3 * i + 2]
        }
        return out
    }

    /// Separable binomial blur with `2·radius + 1` taps (rows of Pascal's triangle: a Gaussian of σ = √(radius/2)
    /// with integer weights, so the result is bit-identical on every platform). Edges are clamped.
    public func binomialBlurred(radius: Int) -> RGBImage {
        guard radius > 0 else { return self }
        let taps = 2 * radius + 1
        var weights = [Float](repeating: 0, count: taps)
        var row: [Double] = [1]
        for _ in 1..<taps { row = zip(row + [0], [0] + row).map { $0 + $1 } }
        let total = row.reduce(0, +)
        for k in 0..<taps { weights[k] = Float(row[k] / total) }
        var temp = self, out = self
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    var sum: Float = 0
                    for k in 0..<taps {
                        let xx = min(max(x + k - radius, 0), width - 1)
                        sum += weights[k] * pixels[3 * (y * width + xx) + c]
                    }
                    temp.pixels[3 * (y * width + x) + c] = sum
                }
            }
        }
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    var sum: Float = 0
                    for k in 0..<taps {
                        let yy = min(max(y + k - radius, 0), height - 1)
                        sum += weights[k] * temp.pixels[3 * (yy * width + x) + c]
                    }
                    out.pixels[3 * (y * width + x) + c] = sum
                }
            }
        }
        return out
    }

    /// Nearest-neighbour enlargement by an integer factor (so 32×32 samples are visible in a grid).
    public func upscaled(by factor: Int) -> RGBImage {
        precondition(factor >= 1, "upscale factor must be at least 1")
        guard factor > 1 else { return self }
        var out = RGBImage(width: width * factor, height: height * factor)
        for y in 0..<out.height {
            for x in 0..<out.width {
                let src = 3 * ((y / factor) * width + x / factor), dst = 3 * (y * out.width + x)
                out.pixels[dst] = pixels[src]
                out.pixels[dst + 1] = pixels[src + 1]
                out.pixels[dst + 2] = pixels[src + 2]
            }
        }
        return out
    }

    /// 8-bit interleaved RGB bytes (round to nearest, clamped; NaN becomes 0).
    public func rgbBytes() -> [UInt8] {
        pixels.map { v in v.isNaN ? 0 : UInt8(min(max(v, 0), 1) * 255 + 0.5) }
    }

    /// An image from 8-bit interleaved RGB bytes.
    public init(width: Int, height: Int, rgbBytes: [UInt8]) {
        self.init(width: width, height: height, pixels: rgbBytes.map { Float($0) / 255 })
    }
}
