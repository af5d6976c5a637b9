import Foundation
import MiroEngine
import MiroPipeline
import MiroShapes
import MiroTestSupport
import MiroTraining
import Testing

/// `--precision bf16-mixed`: autocast casts what PyTorch's autocast casts, the weights, gradients and loss stay
/// float32, and training still learns.
@Suite(.serialized)
struct MixedPrecisionTests {
    @Test func autocastCastsMatrixProductsAndRestoresTheState() throws {
        let a = try Tensor.randn([4, 8], generator: Generator(seed: 1))
        let b = try Tensor.randn([8, 3], generator: Generator(seed: 2))
        #expect(try a.matmul(b).dtype == .float32)
        let (product, sum, inner) = try Autocast.run {
            // matmul is on autocast's lower-precision list, elementwise addition on none (it follows its inputs)
            (try a.matmul(b), try a + a, try Autocast.run { try a.matmul(b) })
        }
        #expect(product.dtype == .bfloat16)
        #expect(sum.dtype == .float32)
        #expect(inner.dtype == .bfloat16)
        #expect(try a.matmul(b).dtype == .float32, "leaving the region switches autocast off again")
        // bf16 has an 8-bit mantissa: close to the float32 product, not equal
        let error = try (product.to(.float32) - a.matmul(b)).abs().amax().item()
        #expect(error > 0 && error < 0.1, "bf16 product differs from fp32 by \(error)")
    }

    @Test func anErrorInsideTheRegionStillLeavesIt() throws {
        struct Stop: Error {}
        let a = try Tensor.ones([2, 2])
        #expect(throws: Stop.self) { try Autocast.run { () throws -> Void in throw Stop() } }
        #expect(try a.matmul(a).dtype == .float32)
    }

    @Test func bf16MixedTrainsWithFloat32WeightsAndLoss() throws {
        let data = try ShapesTrainingSet(count: 64, seed: 5, encoder: ShapesTextEncoder(), logger: quietLogger)
        func run(_ precision: Precision) throws -> (losses: [Double], trainer: Trainer) {
            let dir = try tempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            var c = microConfig(steps: 30)
            c.train.learningRate = 3e-3
            c.train.precision = precision
            let t = try Trainer(runDirectory: dir, config: c, data: data, resume: false, logger: quietLogger)
            return (try (0..<30).map { _ in try t.trainStep().rawLoss }, t)
        }
        let (fp32, _) = try run(.fp32)
        let (bf16, trainer) = try run(.bf16Mixed)
        #expect(trainer.config.train.precision == .bf16Mixed)
        for (name, p) in trainer.model.stateDict() where p.dtype.isFloatingPoint {
            #expect(p.dtype == .float32, "\(name) is \(p.dtype)")
        }
        // The same draws and data: the first loss differs only by bf16 rounding, and both runs learn.
        #expect(abs(bf16[0] - fp32[0]) < 0.05 * fp32[0], "first loss fp32 \(fp32[0]), bf16 \(bf16[0])")
        #expect(bf16[0] != fp32[0], "autocast changed nothing")
        let mean = { (xs: ArraySlice<Double>) in xs.reduce(0, +) / Double(xs.count) }
        #expect(mean(bf16.suffix(5)) < mean(bf16.prefix(5)), "bf16 raw loss \(bf16.prefix(5)) → \(bf16.suffix(5))")
        #expect(abs(mean(bf16.suffix(5)) - mean(fp32.suffix(5))) < 0.15 * mean(fp32.suffix(5)))
    }

    @Test func configurationsWithoutPrecisionDecodeAsFp32() throws {
        var c = RunConfig()
        c.train.precision = nil
        let text = try c.json()
        #expect(!text.contains("precision"))
        #expect(try RunConfig.decode(text, source: "run.json").train.effectivePrecision == .fp32)
        c.train.precision = .bf16Mixed
        #expect(try c.json().contains("\"bf16-mixed\""))
    }
}
