import Foundation
import MiroEngine
import MiroPipeline
import Testing

@Suite struct TextToImageTests {
    /// `remap_image_torch`: (clamp(x·0.5 + 0.5, 0, 1) · 255).to(uint8) truncates; values outside [−1, 1] clamp.
    @Test func remapTruncatesLikeTorch() throws {
        // one 1×2 image per channel value set: (B=1, C=3, H=1, W=2)
        let x = try Tensor([-1, 0, 1, 0.999, -2, 3] as [Float], shape: [1, 3, 1, 2])
        let images = try ImageRemap.uint8Images(x)
        #expect(images.count == 1 && images[0].width == 2 && images[0].height == 1)
        // pixel (0,0) = channels (−1, 1, −2); pixel (1,0) = (0, 0.999, 3)
        // 0 → 127.5 → 127; 0.999 → 254.87 → 254
        #expect(images[0].bytes == [0, 255, 0, 127, 254, 255])
    }

    @Test func remapRefusesWrongShapes() throws {
        let x = try Tensor.zeros([1, 4, 2, 2])
        #expect(throws: InputError.self) { try ImageRemap.uint8Images(x) }
    }
}
