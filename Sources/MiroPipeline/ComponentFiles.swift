// The files the official data preparation writes with the pretrained components (miro data/preprocess_data.py,
// stage `vae`): FLAN-T5-XL caption embeddings trimmed to their mask, SDXL-VAE posterior mean/std — as float16
// `.npy`, the enriched-shard members `miro sample --text-embedding` and `miro train --data` read.

import Foundation
import MiroEngine
import MiroImage
import MiroIO
import MiroVAE

public enum ComponentFiles {
    /// `last_hidden_state[i, :mask.sum()]` cast `.half()`: (n, D) float16, `</s>` included.
    public static func writeTextEmbedding(_ embedding: Tensor, to url: URL, dtype: DType = .float16) throws {
        try TensorFiles.saveNPY(try embedding.to(dtype).contiguous(), to: url)
    }

    /// An 8-bit PNG as RGB bytes (H × W × 3): grey is replicated and alpha dropped, as PIL's `convert("RGB")`.
    public static func rgbBytes(_ png: PNGImage, source: String) throws -> [UInt8] {
        let n = png.width * png.height
        guard png.bytes.count == n * png.channels else {
            throw InputError("\(source): \(png.bytes.count) pixel bytes for \(png.width)×\(png.height)×\(png.channels)")
        }
        switch png.channels {
        case 3: return png.bytes
        case 4: return (0..<n).flatMap { i in png.bytes[(4 * i)..<(4 * i + 3)] }
        case 1: return png.bytes.flatMap { [$0, $0, $0] }
        case 2: return (0..<n).flatMap { i in [UInt8](repeating: png.bytes[2 * i], count: 3) }
        default: throw InputError("\(source): \(png.channels) channels per pixel are not an image this reader knows")
        }
    }

    /// torchvision `center_crop` to the largest centred square: offsets `int(round((W − s) / 2))` with Python's
    /// round-half-to-even. Returns the square's bytes and side.
    public static func centerCropSquare(_ bytes: [UInt8], width: Int, height: Int) -> (bytes: [UInt8], side: Int) {
        let side = min(width, height)
        let left = Int((Double(width - side) / 2).rounded(.toNearestOrEven))
        let top = Int((Double(height - side) / 2).rounded(.toNearestOrEven))
        var out = [UInt8]()
        out.reserveCapacity(side * side * 3)
        for y in top..<(top + side) {
            let row = (y * width + left) * 3
            out += bytes[row..<(row + side * 3)]
        }
        return (out, side)
    }

    /// A PNG file → (1, 3, size, size) in [−1, 1] as stage `vae` feeds the VAE: centre crop to a square, then
    /// `ToTensor` + `Normalize(0.5, 0.5)`. The square must already be `size` pixels: Pillow-identical resizing
    /// (the official `Resize(size)`, bilinear with antialias) is not ported yet, so other sizes are refused.
    public static func imageTensor(png url: URL, size: Int) throws -> Tensor {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw InputError("cannot read \(url.path)") }
        let png: PNGImage
        do { png = try PNGReader.decode(data) } catch { throw InputError("\(url.path): not a PNG this reader can decode (\(error))") }
        let (square, side) = centerCropSquare(try rgbBytes(png, source: url.path), width: png.width, height: png.height)
        guard side == size else {
            throw InputError("\(url.path): its centred square is \(side)×\(side), not \(size)×\(size); resize it first "
                             + "(Pillow-identical resizing is not in miro-swift yet)")
        }
        let pixels = try Tensor(square, shape: [1, side, side, 3])
        return try VAEImages.fromUInt8(pixels)
    }

    /// Stored latents (`vae_embeddings_mean_*`, (4, h, w) or (B, 4, h, w), any float dtype) → the VAE's input batch.
    public static func latentBatch(npy url: URL, channels: Int = 4) throws -> Tensor {
        var t: Tensor
        do { t = try TensorFiles.loadNPY(url) } catch { throw InputError("cannot read \(url.path): \(error)") }
        guard t.dtype.isFloatingPoint else { throw InputError("\(url.path): expected a float array, got \(t.dtype)") }
        if t.rank == 3 { t = try t.unsqueezed(0) }
        guard t.rank == 4, t.size(1) == channels, t.size(0) >= 1 else {
            throw InputError("\(url.path): expected latents (\(channels), h, w) or (B, \(channels), h, w), got \(t.shape)")
        }
        return try t.to(.float32)
    }
}
