/// The reward models' image preprocessing (rewards.md §3.2–§3.5, §3.7), from an image to the `3 × size × size`
/// channel-major float tensor the vision tower takes (the reference's `pixel_values[i]`). Both types provide the
/// two members of MiroRewardModels' `RewardImagePreprocessor` (`size`, `pixelValues(_: RGBImage)`).

/// OpenAI CLIP's mean and standard deviation (`OPENAI_DATASET_MEAN/STD`), as the float32 tensors `Normalize` makes.
public enum CLIPNormalization {
    public static let mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let std: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// `Normalize(mean, std)` on `ToTensor`'s values, in place: `(x − mean_c) / std_c` in float32.
    static func normalize(_ planes: inout [Float], planeSize: Int, mean: [Float], std: [Float]) {
        for c in 0..<3 {
            for i in (c * planeSize)..<((c + 1) * planeSize) { planes[i] = (planes[i] - mean[c]) / std[c] }
        }
    }
}

/// The PIL-side CLIP preprocessing: 8 bits, shortest side to `size` with Pillow's bicubic (antialiased), centre
/// crop `size × size`, `ToTensor` (k / 255), normalise with the OpenAI CLIP mean/std.
///
/// The presets differ only in how the centre crop rounds an odd margin:
/// - `openAICLIP`: torchvision's `CenterCrop`, `round((H − size) / 2)` half-to-even. This is the OpenAI `clip`
///   package's `preprocess` (the aesthetic score's CLIP ViT-L/14) and ImageReward's `_transform(224)`.
/// - `huggingFaceCLIP`: transformers' `CLIPImageProcessor` (`image_transforms.center_crop`), `(H − size) // 2`.
///   This is the processor of PickScore (`laion/CLIP-ViT-H-14-laion2B-s32B-b79K`) and SciScore. Its `rescale`
///   (`k · (1/255)` in float64, then float32) gives the same floats as `k / 255` for every byte.
public struct CLIPImagePreprocessing: Sendable, Equatable {
    /// How the centre crop places an odd margin.
    public enum CropOffset: String, Sendable {
        /// `int(round(margin / 2))`, Python's half-to-even (torchvision).
        case torchvisionRound
        /// `margin // 2` (transformers).
        case floor
    }

    public var size: Int
    public var cropOffset: CropOffset
    public var mean: [Float]
    public var std: [Float]

    public init(size: Int, cropOffset: CropOffset, mean: [Float] = CLIPNormalization.mean, std: [Float] = CLIPNormalization.std) {
        self.size = size
        self.cropOffset = cropOffset
        self.mean = mean
        self.std = std
    }

    /// OpenAI CLIP's `preprocess` at 224 (aesthetic score, ImageReward).
    public static let openAICLIP = CLIPImagePreprocessing(size: 224, cropOffset: .torchvisionRound)
    /// transformers' `CLIPImageProcessor` at 224 as PickScore and SciScore configure it.
    public static let huggingFaceCLIP = CLIPImagePreprocessing(size: 224, cropOffset: .floor)

    /// A float image (e.g. a generated one) goes to 8 bits first, as the pipeline hands images over
    /// (`RGBImage8.init(_:)`, the truncating `remap_image_torch` cast), then through `pixelValues(_: RGBImage8)`.
    public func pixelValues(_ image: RGBImage) throws -> [Float] {
        try pixelValues(try RGBImage8(image))
    }

    /// `3 × size × size` floats, channel-major.
    public func pixelValues(_ image: RGBImage8) throws -> [Float] {
        try validate()
        let resized = try image.resizedShortestSide(to: size, filter: .bicubic)
        let cropped: RGBImage8
        switch cropOffset {
        case .torchvisionRound:
            cropped = try resized.centerCropped(width: size, height: size)
        case .floor:
            guard resized.width >= size, resized.height >= size else {
                throw ImageError.invalidArgument("a \(image.width)×\(image.height) image resized to \(resized.width)×\(resized.height) is smaller than the \(size)² crop")
            }
            cropped = resized.cropped(x: (resized.width - size) / 2, y: (resized.height - size) / 2, width: size, height: size)
        }
        var planes = cropped.channelPlanes()
        CLIPNormalization.normalize(&planes, planeSize: size * size, mean: mean, std: std)
        return planes
    }

    func validate() throws {
        guard size > 0, size <= 4096 else { throw ImageError.invalidArgument("CLIP preprocessing size \(size) is outside 1…4096") }
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 != 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw ImageError.invalidArgument("CLIP preprocessing needs 3 finite means and 3 finite non-zero standard deviations")
        }
    }
}

/// HPSv2's validation transform (`preprocess_val` of its open_clip fork, rewards.md §3.5): `ToTensor` *first*,
/// then torchvision 0.14's tensor `Resize(size, BICUBIC)` — ATen's bicubic, A = −0.75, no antialias, values not
/// rounded back to bytes (`TorchBicubic`) — then `CenterCrop(size)` on the tensor (torchvision's rounding, zero
/// padding) and the OpenAI CLIP normalisation.
public struct HPSv2Preprocessing: Sendable, Equatable {
    public var size: Int
    public var mean: [Float]
    public var std: [Float]

    public init(size: Int = 224, mean: [Float] = CLIPNormalization.mean, std: [Float] = CLIPNormalization.std) {
        self.size = size
        self.mean = mean
        self.std = std
    }

    /// HPS v2 / v2.1 at 224.
    public static let hpsv2 = HPSv2Preprocessing()

    /// A float image goes to 8 bits first (`RGBImage8.init(_:)`), as for `CLIPImagePreprocessing`.
    public func pixelValues(_ image: RGBImage) throws -> [Float] {
        try pixelValues(try RGBImage8(image))
    }

    /// `3 × size × size` floats, channel-major.
    public func pixelValues(_ image: RGBImage8) throws -> [Float] {
        try CLIPImagePreprocessing(size: size, cropOffset: .torchvisionRound, mean: mean, std: std).validate()
        var planes = image.channelPlanes()
        var (width, height) = (image.width, image.height)
        let target = RGBImage8.shortestSideSize(width: width, height: height, to: size)
        if target.width != width || target.height != height {
            planes = try TorchBicubic.resize(planes, channels: 3, height: height, width: width,
                                             outHeight: target.height, outWidth: target.width)
            (width, height) = target
        }
        planes = Self.centerCrop(planes, width: width, height: height, size: size)
        CLIPNormalization.normalize(&planes, planeSize: size * size, mean: mean, std: std)
        return planes
    }

    /// torchvision's `center_crop` on a `3 × height × width` tensor: zero padding where the crop is larger, then
    /// the window at `round(margin / 2)` (half-to-even).
    static func centerCrop(_ planes: [Float], width: Int, height: Int, size: Int) -> [Float] {
        let padLeft = size > width ? (size - width) / 2 : 0, padTop = size > height ? (size - height) / 2 : 0
        let paddedWidth = max(width, size), paddedHeight = max(height, size)
        let left = RGBImage8.roundHalfEven(paddedWidth - size), top = RGBImage8.roundHalfEven(paddedHeight - size)
        var out = [Float](repeating: 0, count: 3 * size * size)
        for c in 0..<3 {
            for y in 0..<size {
                let sy = top + y - padTop
                guard sy >= 0, sy < height else { continue }
                for x in 0..<size {
                    let sx = left + x - padLeft
                    guard sx >= 0, sx < width else { continue }
                    out[(c * size + y) * size + x] = planes[(c * height + sy) * width + sx]
                }
            }
        }
        return out
    }
}

extension RGBImage8 {
    /// `ToTensor`: `3 × height × width` floats, channel-major, each byte k as `k / 255`.
    public func channelPlanes() -> [Float] {
        let n = width * height
        var out = [Float](repeating: 0, count: 3 * n)
        for p in 0..<n {
            out[p] = Float(pixels[3 * p]) / 255
            out[n + p] = Float(pixels[3 * p + 1]) / 255
            out[2 * n + p] = Float(pixels[3 * p + 2]) / 255
        }
        return out
    }
}
