// Port of MiroPipeline.__call__ end to end (miro/pipeline.py, miro-t2i 0.1.4): _encode_prompts → the sampler →
// VAEDecoderPostProcessing (miro/models/postprocessing.py: denormalise, vae.decode, remap_image_torch), method §7.

import Foundation
import MiroEngine
import MiroImage
import MiroModels
import MiroVAE

/// Prompt → the text tokens the network reads: what `_encode_prompts` computes with the tokenizer and the T5
/// encoder of the pipeline (padding="max_length", truncation=True, `max_length` = config `max_text_len`).
public protocol PromptEncoder: AnyObject {
    /// What to print and store in the PNGs (e.g. the folder it was loaded from).
    var name: String { get }
    /// The embedding of the prompt's real tokens, (n, D) float32 with n ≤ `maxLength` (`</s>` included), and
    /// whether the prompt was cut to fit. The padded positions are left out: the network masks them everywhere
    /// (see `ReleasePipeline`), so the images do not depend on them.
    func encode(_ prompt: String, maxLength: Int) throws -> (embedding: Tensor, truncated: Bool)
}

/// VAE latents → pixels: `vae.decode(z).sample` of the SDXL VAE, or a fast approximation (TAESDXL).
public protocol LatentDecoder: AnyObject {
    var name: String { get }
    /// `z` (B, 4, h, w) float32 in the SDXL VAE's own latent space (after `VAEPostProcessing` denormalised the
    /// network's output) → images (B, 3, 8h, 8w) float32, nominally in [−1, 1].
    func decode(_ z: Tensor) throws -> Tensor
}

/// 8-bit images as the official pipeline returns them (`output_type="numpy"`): H × W × 3, row-major.
public struct UInt8Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let bytes: [UInt8]

    public init(width: Int, height: Int, bytes: [UInt8]) throws {
        guard width > 0, height > 0, bytes.count == width * height * 3 else {
            throw InputError("an 8-bit image of \(width)×\(height) needs \(max(width, 0) * max(height, 0) * 3) bytes, got \(bytes.count)")
        }
        self.width = width
        self.height = height
        self.bytes = bytes
    }

    /// The same picture as floats in [0, 1] (for grids and the PNG writer, which round back to these bytes).
    public var rgb: RGBImage { RGBImage(width: width, height: height, pixels: bytes.map { Float($0) / 255 }) }
}

public enum ImageRemap {
    /// `remap_image_torch` without statistics (`VAEImages.toUInt8`: a truncating cast, not rounding), split into
    /// one `UInt8Image` per batch item. `images` is (B, 3, H, W).
    public static func uint8Images(_ images: Tensor) throws -> [UInt8Image] {
        guard images.rank == 4, images.size(1) == 3 else {
            throw InputError("decoded images must be (B, 3, H, W), got \(images.shape)")
        }
        let bytes = try VAEImages.toUInt8(images).toArray(UInt8.self)
        let (b, h, w) = (images.size(0), images.size(2), images.size(3))
        let per = h * w * 3
        return try (0..<b).map { k in try UInt8Image(width: w, height: h, bytes: Array(bytes[(k * per)..<((k + 1) * per)])) }
    }
}

extension ReleasePipeline {
    /// `MiroPipeline(prompt, ...)`: encode, sample the latents, denormalise them (`postprocessing`), decode, remap
    /// to 8 bits. The decoder runs `chunk` images at a time (`VAEDecoderPostProcessing.max_batch_size`, 64).
    public func generate(prompt: String, encoder: any PromptEncoder, decoder: any LatentDecoder, settings: Settings,
                         chunk: Int = 64, progress: ((EulerStep) throws -> Void)? = nil)
        throws -> (latents: Tensor, images: [UInt8Image], truncated: Bool) {
        let (embedding, truncated) = try encoder.encode(prompt, maxLength: maxTextLength)
        let latents = try generate(textEmbedding: embedding, settings: settings, progress: progress)
        let images = try decode(latents, decoder: decoder, chunk: chunk)
        return (latents, images, truncated)
    }

    /// The network's latents (B, 4, h, w) → 8-bit images through `postprocessing` and `decoder`.
    public func decode(_ latents: Tensor, decoder: any LatentDecoder, chunk: Int = 64) throws -> [UInt8Image] {
        guard chunk >= 1 else { throw InputError("the decoder's chunk size must be at least 1, got \(chunk)") }
        let z = try folder.postprocessing.denormalize(latents)
        var images: [UInt8Image] = []
        var start = 0
        while start < z.size(0) {
            let n = min(chunk, z.size(0) - start)
            let decoded = try withoutGrad { try decoder.decode(try z.slice(0, start, start + n)) }
            images += try ImageRemap.uint8Images(decoded)
            start += n
        }
        return images
    }
}
