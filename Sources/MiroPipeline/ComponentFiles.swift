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

    /// An image file (JPEG or PNG, decoded as Pillow's `convert("RGB")`) → (1, 3, size, size) in [−1, 1] as stage
    /// `vae` feeds the VAE: `CenterCrop` to the largest centred square, `Resize(size)` (Pillow bilinear, antialiased;
    /// byte-identical to Pillow), then `ToTensor` + `Normalize(0.5, 0.5)`.
    public static func imageTensor(file url: URL, size: Int) throws -> Tensor {
        let image: RGBImage8
        do {
            image = try ImageDecoder.decode(contentsOf: url.path).centreCroppedToSquareAndResized(to: size)
        } catch {
            throw InputError("\(url.path): \(error)")
        }
        return try VAEImages.fromUInt8(try Tensor(image.pixels, shape: [1, size, size, 3]))
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
