import Testing
import MiroEngine
import MiroFormats

// Finite-difference checks of the engine ops in the exact configurations the SDXL VAE and TAESDXL use
// (Sources/MiroVAE): GroupNorm with eps 1e-6 over several channels per group, the asymmetric (0, 1, 0, 1)
// zero pad followed by a stride-2 unpadded convolution, exact ×2 nearest upsampling, 1×1 shortcut
// convolutions, and one ResnetBlock2D composed end to end. The generic kernels are covered in
// GradientCheckNNTests; these pin the shapes and arguments the autoencoders depend on.

enum VAECases {
    static let ops: [GradCase] = [
        GradCase("groupNorm 2 groups × 3 channels, eps 1e-6, non-square", [U([2, 6, 3, 4], 201), U([6], 202), U([6], 203)]) { x in
            try x[0].groupNorm(groups: 2, weight: x[1], bias: x[2], eps: 1e-6)
        },
        GradCase("padded (0,1,0,1) on NCHW", [U([1, 2, 3, 4], 204)]) { x in try x[0].padded([0, 1, 0, 1]) },
        GradCase("Downsample2D: pad (0,1,0,1) then conv 3×3 stride 2 pad 0", [U([1, 2, 5, 4], 205), U([3, 2, 3, 3], 206), U([3], 207)]) { x in
            try x[0].padded([0, 1, 0, 1]).conv2d(x[1], bias: x[2], stride: (2, 2))
        },
        GradCase("interpolate nearest exact ×2, non-square", [U([2, 2, 3, 2], 208)]) { x in
            try x[0].interpolate(height: 6, width: 4, mode: .nearest)
        },
        GradCase("Upsample2D: nearest ×2 then conv 3×3 pad 1", [U([1, 2, 2, 3], 209), U([2, 2, 3, 3], 210), U([2], 211)]) { x in
            try x[0].interpolate(height: 4, width: 6, mode: .nearest).conv2d(x[1], bias: x[2], padding: (1, 1))
        },
        GradCase("conv2d 1×1 shortcut with bias", [U([2, 3, 2, 2], 212), U([4, 3, 1, 1], 213), U([4], 214)]) { x in
            try x[0].conv2d(x[1], bias: x[2])
        },
        GradCase("TAESD clamp tanh(x / 3) · 3", [U([2, 3], 215, -6...6)]) { x in try (x[0] / 3).tanh() * 3 },
    ]
}

@Suite(.serialized)
struct GradientCheckVAETests {
    @Test(arguments: VAECases.ops)
    func vaeOps(_ c: GradCase) throws { try c.run() }

    /// ResnetBlock2D with a channel change: GN → SiLU → conv → GN → SiLU → conv, plus the 1×1 shortcut.
    @Test func resnetBlock() throws {
        let inputs = [U([1, 2, 3, 3], 220), U([2], 221), U([2], 222), U([4, 2, 3, 3], 223), U([4], 224),
                      U([4], 225), U([4], 226), U([4, 4, 3, 3], 227), U([4], 228), U([4, 2, 1, 1], 229)]
        try checkGradients(inputs) { x in
            var h = try x[0].groupNorm(groups: 1, weight: x[1], bias: x[2], eps: 1e-6).silu()
            h = try h.conv2d(x[3], bias: x[4], padding: (1, 1))
            h = try h.groupNorm(groups: 2, weight: x[5], bias: x[6], eps: 1e-6).silu()
            h = try h.conv2d(x[7], bias: x[8], padding: (1, 1))
            return try x[0].conv2d(x[9]) + h
        }
    }
}
