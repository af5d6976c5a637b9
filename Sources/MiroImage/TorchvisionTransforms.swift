/// Port of torchvision 0.14's PIL-image transforms (`transforms/functional.py`: `resize` with an int size,
/// `_compute_resized_output_size`, `center_crop` with its zero padding) and of MIRO's square crop
/// (`utils/image_processing.py` `CenterCrop(ratio="1:1")`), on 8-bit RGB images.
extension RGBImage8 {
    /// torchvision's size for `Resize(size)`: the shorter side becomes `size`, the longer one
    /// `int(size * long / short)` (truncated); a square goes to `size × size`.
    public static func shortestSideSize(width: Int, height: Int, to size: Int) -> (width: Int, height: Int) {
        let (short, long) = width <= height ? (width, height) : (height, width)
        // Python's `size * long / short` is a correctly rounded true division, as Double's is for these sizes.
        let newLong = Int(Double(size * long) / Double(short))
        return width <= height ? (size, newLong) : (newLong, size)
    }

    /// torchvision 0.14 `transforms.Resize(size, interpolation)` on a PIL image: the shorter side to `size`
    /// (see `shortestSideSize`), resampled by Pillow with `filter` (torchvision's default is bilinear; CLIP's
    /// preprocessing uses bicubic). An image already of that size is returned unchanged, as torchvision does.
    public func resizedShortestSide(to size: Int, filter: ResampleFilter) throws -> RGBImage8 {
        guard size > 0, size <= 1 << 16 else {
            throw ImageError.invalidArgument("the shortest side must become a size in 1…65536, got \(size)")
        }
        let target = Self.shortestSideSize(width: width, height: height, to: size)
        guard target.width > 0, target.height > 0 else {
            throw ImageError.invalidArgument("resizing \(width)×\(height) to a shortest side of \(size) gives \(target.width)×\(target.height)")
        }
        return try resized(width: target.width, height: target.height, filter: filter)
    }

    /// torchvision 0.14 `transforms.CenterCrop((height, width))` on a PIL image: a side larger than the image is
    /// first zero-padded (`(crop − size) // 2` before, the rest after), then the crop starts at
    /// `int(round((size − crop) / 2))` with Python's round-half-to-even.
    public func centerCropped(width cropWidth: Int, height cropHeight: Int) throws -> RGBImage8 {
        guard cropWidth > 0, cropHeight > 0 else {
            throw ImageError.invalidArgument("cannot crop to \(cropWidth)×\(cropHeight): both sides must be positive")
        }
        guard cropWidth.multipliedReportingOverflow(by: cropHeight).partialValue <= PNGReader.maxPixels,
              cropWidth <= Int(Int32.max), cropHeight <= Int(Int32.max) else {
            throw ImageError.invalidArgument("cannot crop to \(cropWidth)×\(cropHeight): more than \(PNGReader.maxPixels) pixels")
        }
        var image = self
        if cropWidth > width || cropHeight > height {
            let left = cropWidth > width ? (cropWidth - width) / 2 : 0
            let top = cropHeight > height ? (cropHeight - height) / 2 : 0
            image = padded(left: left, top: top, width: max(width, cropWidth), height: max(height, cropHeight))
            if image.width == cropWidth && image.height == cropHeight { return image }
        }
        let top = Self.roundHalfEven(image.height - cropHeight), left = Self.roundHalfEven(image.width - cropWidth)
        return image.cropped(x: left, y: top, width: cropWidth, height: cropHeight)
    }

    /// Shortest side to `size`, then the centred `size × size` crop: torchvision's
    /// `Compose([Resize(size, filter), CenterCrop(size)])`, the first two steps of the CLIP-style preprocessing.
    public func resizedShortestSideAndCentreCropped(to size: Int, filter: ResampleFilter) throws -> RGBImage8 {
        try resizedShortestSide(to: size, filter: filter).centerCropped(width: size, height: size)
    }

    /// The image side of MIRO's VAE stage (`data/preprocess_data.py` `vae_image_transforms_256/512`, rewards.md
    /// §4.1), before `ToTensor` and `Normalize(0.5, 0.5)`: `CenterCrop(ratio="1:1")` — the largest centred square,
    /// torchvision's crop offsets — then `transforms.Resize(size)`, torchvision's default *bilinear* (Pillow,
    /// antialiased). Smaller images are scaled up.
    public func centreCroppedToSquareAndResized(to size: Int) throws -> RGBImage8 {
        let side = min(width, height)
        return try centerCropped(width: side, height: side).resizedShortestSide(to: size, filter: .bilinear)
    }

    /// `int(round(difference / 2.0))` in Python: halves go to the even neighbour.
    static func roundHalfEven(_ difference: Int) -> Int {
        let half = difference / 2
        guard difference % 2 != 0 else { return half }
        return half % 2 == 0 ? half : half + 1
    }

    /// The `width × height` window at (x, y); the caller keeps it inside the image.
    func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) -> RGBImage8 {
        if x == 0 && y == 0 && cropWidth == width && cropHeight == height { return self }
        var out = [UInt8](repeating: 0, count: cropWidth * cropHeight * 3)
        for row in 0..<cropHeight {
            let src = ((y + row) * width + x) * 3
            out.replaceSubrange((row * cropWidth * 3)..<((row + 1) * cropWidth * 3), with: pixels[src..<(src + cropWidth * 3)])
        }
        return RGBImage8(checkedWidth: cropWidth, height: cropHeight, pixels: out)
    }

    /// This image on a black `width × height` canvas with its top-left corner at (left, top).
    func padded(left: Int, top: Int, width newWidth: Int, height newHeight: Int) -> RGBImage8 {
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        for row in 0..<height {
            let dst = ((top + row) * newWidth + left) * 3
            out.replaceSubrange(dst..<(dst + width * 3), with: pixels[(row * width * 3)..<((row + 1) * width * 3)])
        }
        return RGBImage8(checkedWidth: newWidth, height: newHeight, pixels: out)
    }
}
