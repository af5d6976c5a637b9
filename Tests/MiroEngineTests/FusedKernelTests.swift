import Foundation
import MiroEngine
import Testing

/// The shim's fused kernels (fused.cpp) against the ATen operators and formulas they replace.
@Suite struct FusedKernelTests {
    /// Largest |a − b| relative to the largest |b|.
    func relativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
        try (a - b).abs().amax().item() / max(1e-30, try b.abs().amax().item())
    }

    // H = 13 and 5 leave a tail that is not a whole 8-wide vector; 256 is the Shapes demo's width
    @Test(arguments: [[4, 2 * 13], [2, 3, 2 * 256], [7, 2 * 5], [1, 2 * 8]])
    func swiGLUMatchesChunkSiluMul(shape: [Int]) throws {
        let h = try (Tensor.randn(shape, generator: Generator(seed: 1)) * 3).requiringGrad()
        let upstream = try Tensor.randn(Array(shape.dropLast()) + [shape.last! / 2], generator: Generator(seed: 2))
        let fused = try h.swiGLU(), reference = try h.swiGLUUnfused()
        #expect(fused.shape == reference.shape)
        #expect(try relativeError(fused, reference) <= 1e-6)
        let gFused = try #require(DataParallel.gradients(of: (fused * upstream).sum(), withRespectTo: [h])[0])
        let gRef = try #require(DataParallel.gradients(of: (reference * upstream).sum(), withRespectTo: [h])[0])
        #expect(try relativeError(gFused, gRef) <= 1e-6)
        // the formula itself, in float64: a * b * sigmoid(b)
        let h64 = try h.detached().to(.float64)
        let parts = try h64.chunked(2, dim: -1)
        let expected = try parts[0] * parts[1] * parts[1].sigmoid()
        #expect(try relativeError(fused.detached().to(.float64), expected) <= 1e-6)
    }

    @Test func swiGLUTakesTheFusedPathForFloat32OnAVX2() throws {
        let h = try Tensor.randn([3, 16])
        // every x86-64 machine this project runs on has AVX2 and FMA (x86-64-v3); elsewhere the ATen path runs
        #if arch(x86_64)
        #expect(h.swiGLUIsFused)
        #endif
        let bf16 = try h.to(.bfloat16)
        #expect(!bf16.swiGLUIsFused, "bf16 runs the ATen operators")
        #expect(try relativeError(bf16.swiGLU().to(.float32), h.swiGLU()) < 2e-2)
        #expect(throws: (any Error).self) { try Tensor.randn([2, 5]).swiGLU() }
        // under no-grad (the self-conditioning pass) it is a plain forward
        let noGrad = try withoutGrad { try h.requiringGrad().swiGLU() }
        #expect(!noGrad.requiresGrad)
    }

    @Test func swiGLUOfANonContiguousInput() throws {
        let base = try Tensor.randn([2 * 12, 5], generator: Generator(seed: 3))
        let h = try base.transposed(0, 1)  // (5, 24), not contiguous
        #expect(try relativeError(h.swiGLU(), h.swiGLUUnfused()) <= 1e-6)
    }

    /// One LAMB step (miro/utils/optimizers.py) in float64 Swift tensors: the formula the fused kernel runs.
    func lambReference(p: Tensor, g: Tensor, m: Tensor, v: Tensor, step: Int, lr: Double, weightDecay: Double,
                       adapt: Bool, decouple: Bool) throws -> (p: Tensor, m: Tensor, v: Tensor) {
        let (b1, b2, eps) = (0.9, 0.999, 1e-6)
        let m2 = try m * b1 + g * (1 - b1), v2 = try v * b2 + g * g * (1 - b2)
        var u = try (m2 / (1 - pow(b1, Double(step)))) / ((v2 / (1 - pow(b2, Double(step)))).sqrt() + eps)
        if weightDecay != 0 && !decouple { u = try u + p * weightDecay }
        var ratio = 1.0
        if adapt {
            let w = try p.pow(2).sum().item().squareRoot(), n = try u.pow(2).sum().item().squareRoot()
            if w != 0 && n != 0 { ratio = w / n }
        }
        var p2 = try p - u * (lr * ratio)
        if weightDecay != 0 && decouple { p2 = try p2 * (1 - weightDecay) }
        return (p2, m2, v2)
    }

    @Test(arguments: [(37, 0.01, true, false), (64, 0.01, true, true), (5, 0.0, false, false), (8, 0.1, true, false)])
    func lambStepMatchesTheFormula(size: Int, weightDecay: Double, adapt: Bool, decouple: Bool) throws {
        let p = try Tensor.randn([size], generator: Generator(seed: 4)).requiringGrad()
        let m = try Tensor.randn([size], generator: Generator(seed: 5)) * 0.1
        let v = try Tensor.rand([size], generator: Generator(seed: 6)) * 0.01
        let g = try Tensor.randn([size], generator: Generator(seed: 7))
        try p.setGrad(g)
        let expected = try lambReference(p: p.detached().to(.float64), g: g.to(.float64), m: m.to(.float64),
                                         v: v.to(.float64), step: 3, lr: 0.01, weightDecay: weightDecay, adapt: adapt,
                                         decouple: decouple)
        try MultiTensor.lambStep(parameters: [p], expAvg: [m], expAvgSq: [v], steps: [3], learningRate: 0.01, beta1: 0.9,
                                 beta2: 0.999, eps: 1e-6, weightDecay: weightDecay, adapt: adapt, decouple: decouple)
        #expect(try relativeError(m.to(.float64), expected.m) <= 1e-6)
        #expect(try relativeError(v.to(.float64), expected.v) <= 1e-6)
        #expect(try relativeError(p.detached().to(.float64), expected.p) <= 1e-6)
    }

    @Test func lambLeavesAParameterWithoutGradientAlone() throws {
        let p = try Tensor.randn([9], generator: Generator(seed: 8)).requiringGrad()
        let before = try p.detached().clone()
        let m = try Tensor.zeros([9]), v = try Tensor.zeros([9])
        try MultiTensor.lambStep(parameters: [p], expAvg: [m], expAvgSq: [v], steps: [1], learningRate: 0.1, beta1: 0.9,
                                 beta2: 0.999, eps: 1e-6, weightDecay: 0.01, adapt: true, decouple: false)
        #expect(try p.detached().eq(before).all().item() == 1)
        #expect(try m.abs().amax().item() == 0)
    }
}
