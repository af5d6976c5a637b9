import Testing
import MiroEngine
import MiroFormats

// Finite-difference checks of the neural-network kernels and of every shape / indexing op.
// Shape ops have trivial local derivatives, but a wrong index mapping in the backward pass
// (e.g. a gradient scattered to the wrong element) is exactly what the weighted sum detects.

private func i64(_ values: [Int64], _ shape: [Int]) -> Tensor { try! Tensor(values, shape: shape) }
private func mask(_ values: [Bool], _ shape: [Int]) -> Tensor { try! Tensor(values, shape: shape) }

enum NNCases {
    static let kernels: [GradCase] = [
        GradCase("matmul 2-D", [U([3, 4], 1), U([4, 5], 2)]) { x in try x[0].matmul(x[1]) },
        GradCase("matmul batched broadcast", [U([2, 1, 3, 4], 3), U([3, 4, 2], 4)]) { x in try x[0].matmul(x[1]) },
        GradCase("matmul batch × matrix", [U([2, 3, 4], 5), U([4, 2], 6)]) { x in try x[0].matmul(x[1]) },
        GradCase("matmul matrix × vector", [U([3, 4], 7), U([4], 8)]) { x in try x[0].matmul(x[1]) },
        GradCase("linear with bias", [U([2, 3, 4], 9), U([5, 4], 10), U([5], 11)]) { x in try x[0].linear(x[1], x[2]) },
        GradCase("linear without bias", [U([3, 4], 12), U([2, 4], 13)]) { x in try x[0].linear(x[1]) },
        GradCase("softmax(-1)", [U([3, 4], 14, -2...2)]) { x in try x[0].softmax(-1) },
        GradCase("softmax(0)", [U([3, 4], 15, -2...2)]) { x in try x[0].softmax(0) },
        GradCase("logSoftmax(1)", [U([2, 5, 2], 16, -2...2)]) { x in try x[0].logSoftmax(1) },
        GradCase("layerNorm([4]) weight+bias", [U([2, 3, 4], 17), U([4], 18), U([4], 19)]) { x in
            try x[0].layerNorm([4], weight: x[1], bias: x[2])
        },
        GradCase("layerNorm([3,4]) plain", [U([2, 3, 4], 20)]) { x in try x[0].layerNorm([3, 4]) },
        GradCase("groupNorm(2) weight+bias", [U([2, 4, 3, 3], 21), U([4], 22), U([4], 23)]) { x in
            try x[0].groupNorm(groups: 2, weight: x[1], bias: x[2])
        },
        GradCase("groupNorm(1) plain", [U([1, 3, 2, 2], 24)]) { x in try x[0].groupNorm(groups: 1) },
        GradCase("conv2d stride, padding, groups, bias", [U([1, 4, 5, 5], 25), U([6, 2, 3, 3], 26), U([6], 27)]) { x in
            try x[0].conv2d(x[1], bias: x[2], stride: (2, 1), padding: (1, 2), groups: 2)
        },
        GradCase("conv2d dilation, batch 2", [U([2, 2, 5, 4], 28), U([3, 2, 2, 2], 29)]) { x in
            try x[0].conv2d(x[1], padding: (1, 0), dilation: (2, 1))
        },
        GradCase("interpolate bilinear up", [U([1, 2, 3, 4], 30)]) { x in try x[0].interpolate(height: 5, width: 7, mode: .bilinear) },
        GradCase("interpolate bilinear alignCorners", [U([1, 2, 3, 4], 31)]) { x in
            try x[0].interpolate(height: 5, width: 3, mode: .bilinear, alignCorners: true)
        },
        GradCase("interpolate bicubic up", [U([1, 1, 4, 4], 32)]) { x in try x[0].interpolate(height: 6, width: 7, mode: .bicubic) },
        GradCase("interpolate bicubic down, alignCorners", [U([2, 1, 5, 6], 33)]) { x in
            try x[0].interpolate(height: 3, width: 4, mode: .bicubic, alignCorners: true)
        },
        GradCase("interpolate nearest up", [U([1, 2, 3, 3], 34)]) { x in try x[0].interpolate(height: 6, width: 5) },
        GradCase("interpolate nearest down", [U([1, 1, 6, 4], 35)]) { x in try x[0].interpolate(height: 3, width: 2, mode: .nearest) },
        GradCase("interpolate area", [U([1, 2, 4, 6], 36)]) { x in try x[0].interpolate(height: 2, width: 3, mode: .area) },
        GradCase("attention with key mask and scale", [U([2, 2, 3, 4], 37), U([2, 2, 5, 4], 38), U([2, 2, 5, 3], 39)]) { x in
            // (B=2, 1, 1, Lk=5): every row keeps at least one key.
            let m = mask([true, false, true, true, false, false, true, true, false, true], [2, 1, 1, 5])
            return try Tensor.scaledDotProductAttention(x[0], x[1], x[2], mask: m, scale: 0.3)
        },
        GradCase("attention per-query mask, default scale", [U([1, 1, 3, 4], 40), U([1, 1, 4, 4], 41), U([1, 1, 4, 2], 42)]) { x in
            let m = mask([true, false, false, true,
                          false, true, true, false,
                          true, true, false, true], [1, 1, 3, 4])
            return try Tensor.scaledDotProductAttention(x[0], x[1], x[2], mask: m)
        },
        GradCase("attention causal", [U([1, 2, 4, 3], 43), U([1, 2, 4, 3], 44), U([1, 2, 4, 3], 45)]) { x in
            try Tensor.scaledDotProductAttention(x[0], x[1], x[2], causal: true)
        },
        GradCase("embedding (weight grad, repeated ids)", [U([6, 3], 46)]) { x in
            try Tensor.embedding(x[0], i64([0, 2, 2, 5, 1, 0], [2, 3]))
        },
        GradCase("dropout(training: false) is identity", [U([3, 4], 47)]) { x in try x[0].dropout(0.5, training: false) },
    ]

    static let shapes: [GradCase] = [
        GradCase("reshaped", [U([2, 3, 4], 50)]) { x in try x[0].reshaped([4, 6]) },
        GradCase("reshaped -1 of a transpose", [U([3, 4], 51)]) { x in try x[0].transposed(0, 1).reshaped(2, -1) },
        GradCase("permuted", [U([2, 3, 4], 52)]) { x in try x[0].permuted(2, 0, 1) },
        GradCase("transposed", [U([2, 3, 4], 53)]) { x in try x[0].transposed(0, 2) },
        GradCase("T", [U([3, 5], 54)]) { x in try x[0].T },
        GradCase("expanded", [U([3, 1], 55)]) { x in try x[0].expanded([2, 3, 4]) },
        GradCase("expanded with -1", [U([1, 4], 56)]) { x in try x[0].expanded([3, -1]) },
        GradCase("squeezed", [U([3, 1, 4], 57)]) { x in try x[0].squeezed(1) },
        GradCase("unsqueezed", [U([3, 4], 58)]) { x in try x[0].unsqueezed(-1) },
        GradCase("flattened(from: 1)", [U([2, 3, 4], 59)]) { x in try x[0].flattened(from: 1) },
        GradCase("flattened all", [U([2, 3, 4], 60)]) { x in try x[0].flattened() },
        GradCase("slice with step", [U([3, 7], 61)]) { x in try x[0].slice(1, 1, 7, step: 2) },
        GradCase("slice dim 0", [U([5, 2], 62)]) { x in try x[0].slice(0, 1, 4) },
        GradCase("select", [U([3, 4], 63)]) { x in try x[0].select(1, 2) },
        GradCase("select negative dim", [U([2, 3, 4], 64)]) { x in try x[0].select(-1, 0) },
        GradCase("subscript index", [U([3, 4], 65)]) { x in try x[0][1] },
        GradCase("subscript range", [U([5, 2], 66)]) { x in try x[0][1..<4] },
        GradCase("indexSelect (repeats)", [U([3, 4], 67)]) { x in try x[0].indexSelect(1, i64([2, 0, 2], [3])) },
        GradCase("gather", [U([3, 4], 68)]) { x in try x[0].gather(1, i64([0, 2, 1, 1, 3, 0], [3, 2])) },
        GradCase("maskedFill", [U([2, 3], 69)]) { x in
            try x[0].maskedFill(mask([true, false, false, true, false, true], [2, 3]), 5)
        },
        GradCase("where_ (both branches)", [U([2, 3], 70), U([2, 3], 71)]) { x in
            try Tensor.where_(mask([true, false, true, false, false, true], [2, 3]), x[0], x[1])
        },
        GradCase("cat dim 1", [U([2, 3], 72), U([2, 2], 73)]) { x in try Tensor.cat([x[0], x[1]], dim: 1) },
        GradCase("cat dim 0 (same input twice)", [U([2, 3], 74)]) { x in try Tensor.cat([x[0], x[0] * 2]) },
        GradCase("stack dim 1", [U([2, 3], 75), U([2, 3], 76)]) { x in try Tensor.stack([x[0], x[1]], dim: 1) },
        GradCase("split sizes, reordered", [U([2, 6], 77)]) { x in
            let p = try x[0].split(sizes: [1, 3, 2], dim: 1)
            return try Tensor.cat([p[2] * 2, p[0], -p[1]], dim: 1)
        },
        GradCase("chunked, reordered", [U([5, 2], 78)]) { x in
            let c = try x[0].chunked(3)
            return try Tensor.cat([c[2], c[0] * 3, c[1]])
        },
        GradCase("padded last dim", [U([2, 3], 79)]) { x in try x[0].padded([1, 2], value: 0.5) },
        GradCase("padded two dims", [U([2, 3], 80)]) { x in try x[0].padded([0, 1, 2, 0]) },
        GradCase("repeated (adds a dim)", [U([2, 2], 81)]) { x in try x[0].repeated([2, 1, 3]) },
        GradCase("tril", [U([4, 4], 82)]) { x in try x[0].tril() },
        GradCase("tril(-1)", [U([3, 4], 83)]) { x in try x[0].tril(-1) },
        GradCase("contiguous of a permute", [U([2, 3, 4], 84)]) { x in try x[0].permuted(1, 2, 0).contiguous() },
        GradCase("clone", [U([3, 4], 85)]) { x in try x[0].clone() * x[0] },
        GradCase("to(float64) no-op", [U([3, 4], 86)]) { x in try x[0].to(.float64) },
    ]
}

@Suite(.serialized)
struct GradientCheckNNTests {
    @Test(arguments: NNCases.kernels)
    func kernels(_ c: GradCase) throws { try c.run() }

    @Test(arguments: NNCases.shapes)
    func shapeOps(_ c: GradCase) throws { try c.run() }

    /// A small MLP + attention block end to end: every op composes.
    @Test func composedBlock() throws {
        let inputs = [U([2, 3, 4], 90), U([4, 4], 91), U([4], 92), U([4], 93), U([4], 94)]
        try checkGradients(inputs) { x in
            let h = try x[0].layerNorm([4], weight: x[3], bias: x[4])
            let q = try h.linear(x[1], x[2]).unsqueezed(1)          // (B, 1, L, E)
            let a = try Tensor.scaledDotProductAttention(q, q, h.unsqueezed(1))
            return try (a.squeezed(1).gelu() + x[0]).softmax(-1)
        }
    }

    /// Gradients flow back through a non-trivial subset in known amounts.
    @Test func embeddingGradientCountsRepeats() throws {
        let w = try Tensor.zeros([4, 2], dtype: .float64).requiringGrad()
        try Tensor.embedding(w, i64([3, 1, 3, 3], [4])).sum().backward()
        #expect(try #require(w.grad).doubles() == [0, 0, 1, 1, 0, 0, 3, 3])
    }

    /// Masked keys get exactly zero attention weight, so the masked values' gradient is zero.
    @Test func attentionMaskedValuesGetNoGradient() throws {
        let q = try Tensor.ones([1, 1, 2, 2], dtype: .float64)
        let k = try Tensor.ones([1, 1, 3, 2], dtype: .float64)
        let v = try Tensor([1.0, 2, 3, 4, 5, 6], shape: [1, 1, 3, 2]).requiringGrad()
        let m = mask([true, false, true], [1, 1, 1, 3])
        let out = try Tensor.scaledDotProductAttention(q, k, v, mask: m)
        #expect(try out.doubles() == [3, 4, 3, 4])                  // mean of rows 0 and 2
        try out.sum().backward()
        // Exactly zero where masked; libtorch 2.x's fused kernel gives the others to within rounding.
        let grad = try #require(v.grad).doubles()
        #expect(grad[2] == 0 && grad[3] == 0, "masked rows: \(grad)")
        for i in [0, 1, 4, 5] { #expect(Swift.abs(grad[i] - 1) <= 1e-12, "grad[\(i)] = \(grad[i])") }
    }
}
