import Foundation
import Testing
import MiroEngine
import MiroNN
import MiroVAE

/// Opt-in (MIRO_VAE_TIMING=1): the full-size SDXL VAE and TAESDXL at MIRO's size (256² images, 32² latents)
/// with random weights, timed once after a warm-up, for the README's benchmark notes. Not a parity check.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["MIRO_VAE_TIMING"] != nil))
struct FullSizeTimingTests {
    /// Fan-in-scaled normal weights, GroupNorm weights 1, biases 0: activations stay finite and O(1).
    func randomize(_ module: Module) throws {
        let g = try Generator(seed: 11)
        try withoutGrad {
            for (key, p) in module.namedParameters() {
                if p.rank >= 2 {
                    try p.normal_(std: 1 / Double(p.count / p.size(0)).squareRoot(), generator: g)
                } else if key.hasSuffix("norm1.weight") || key.hasSuffix("norm2.weight") || key.hasSuffix("norm.weight")
                            || key.hasSuffix("norm_out.weight") {
                    try p.fill_(1)
                } else {
                    try p.zero_()
                }
            }
        }
    }

    func time(_ label: String, _ body: () throws -> Tensor) throws {
        _ = try body()  // warm-up
        let start = Date()
        let out = try body()
        let seconds = Date().timeIntervalSince(start)
        let finite = try out.isFinite().all().item() != 0
        print(String(format: "%@: %.2f s, output %@, finite %@, peak RSS %.0f MB", label, seconds, "\(out.shape)",
                     finite ? "yes" : "no", peakResidentMB()))
        #expect(finite)
    }

    func peakResidentMB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
        return kb / 1024
    }

    @Test func sdxlVAE256() throws {
        let vae = try AutoencoderKL(config: .sdxl)
        try randomize(vae)
        let latents = try Tensor.randn([1, 4, 32, 32], generator: Generator(seed: 1))
        try time("SDXL VAE decode 1×4×32×32") { try vae.decode(latents) }
        let images = try Tensor.rand([1, 3, 256, 256], generator: Generator(seed: 2)) * 2 - 1
        try time("SDXL VAE encode 1×3×256×256") { try vae.encode(images).mean }
    }

    @Test func taesdxl256() throws {
        let taesd = try AutoencoderTiny(config: .taesdxl)
        try randomize(taesd)
        let latents = try Tensor.randn([1, 4, 32, 32], generator: Generator(seed: 1))
        try time("TAESDXL decode 1×4×32×32") { try taesd.decode(latents) }
    }
}

/// Opt-in (MIRO_VAE_TIMING=1): single kernels at the SDXL decoder's sizes, to compare with PyTorch op by op.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["MIRO_VAE_TIMING"] != nil))
struct KernelTimingTests {
    func time(_ label: String, repeats: Int = 5, _ body: () throws -> Tensor) throws {
        _ = try body()
        let start = Date()
        for _ in 0..<repeats { _ = try body() }
        print(String(format: "%@: %.1f ms", label, Date().timeIntervalSince(start) * 1000 / Double(repeats)))
    }

    @Test func decoderKernels() throws {
        try withoutGrad {
            let g = try Generator(seed: 3)
            let x512 = try Tensor.randn([1, 512, 64, 64], generator: g), w512 = try Tensor.randn([512, 512, 3, 3], generator: g) * 0.01
            let b512 = try Tensor.zeros([512])
            try time("conv 512→512 3×3 @64²") { try x512.conv2d(w512, bias: b512, padding: (1, 1)) }
            let x128 = try Tensor.randn([1, 128, 256, 256], generator: g), w128 = try Tensor.randn([128, 128, 3, 3], generator: g) * 0.01
            let b128 = try Tensor.zeros([128])
            try time("conv 128→128 3×3 @256²") { try x128.conv2d(w128, bias: b128, padding: (1, 1)) }
            let gw = try Tensor.ones([128]), gb = try Tensor.zeros([128])
            try time("group norm 32 groups 128 ch @256²") { try x128.groupNorm(groups: 32, weight: gw, bias: gb, eps: 1e-6) }
            try time("silu 128 ch @256²") { try x128.silu() }
            try time("nearest ×2 128 ch 128²→256²") { try x128.slice(2, 0, 128).slice(3, 0, 128).interpolate(height: 256, width: 256) }
        }
    }
}
