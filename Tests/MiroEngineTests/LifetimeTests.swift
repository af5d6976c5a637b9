import Testing
import MiroEngine
import MiroFormats

// Handle-lifetime regression test (docs/engine.md, interop rule 1).
//
// A `Tensor` is a final class owning a C handle that its deinit frees. Swift may release an
// object right after its last *Swift* use; if the engine ever hands `someTemporary().handle` to a
// C call, the optimizer (release builds; debug keeps temporaries to the end of the statement) can
// free the handle, its at::Tensor and its storage *before* the call reads them.
//
// These tests drive every API shape that takes or makes temporaries (operands built inline,
// chained methods, inline weights/masks/indices/generators/gradients) with LARGE tensors
// (≥ 1M float64 elements = 8 MB: freed storage is returned to the OS or reused by the very next
// allocation) many times over, and check exact values on every iteration. Values are integers
// or dyadic fractions, so float64 results are exact and any reuse of freed memory shows.
// The suite must be run in release mode too (`swift test -c release`): that is where the bug lives.

private let n = 1 << 20                 // elements of the large tensors
private let side = 1 << 10              // n = side²
private let iterations = 8

private func full(_ shape: [Int], _ v: Double) throws -> Tensor { try Tensor.full(shape, v, dtype: .float64) }
private func ones(_ shape: [Int]) throws -> Tensor { try Tensor.ones(shape, dtype: .float64) }
private func range(_ count: Int) throws -> Tensor { try Tensor.arange(0, Double(count), dtype: .float64) }
private func allEqual(_ t: Tensor, _ v: Double) throws -> Bool { try t.eq(v).all().item() == 1 }

@Suite(.serialized)
struct LifetimeTests {
    let N = Double(n)

    @Test func arithmeticChainsOfTemporaries() throws {
        for it in 0..<iterations {
            let k = Double(it + 1)
            #expect(try ((range(n) + ones([n])) * 2).sum().item() == N * (N + 1))
            #expect(try (range(n) * full([n], k)).sum().item() == k * N * (N - 1) / 2)
            #expect(try ((range(n) * 0).exp() * full([n], 3)).sum().item() == 3 * N)
            #expect(try (10 - ones([n])).amax().item() == 9)
            #expect(try (full([n], 2).pow(full([n], 3)) / full([n], 4)).mean().item() == 2)
            #expect(try full([n], k).maximum(full([n], 2)).minimum(full([n], 5)).amin().item() == min(max(k, 2), 5))
            #expect(try (range(n) - range(n).flattened()).abs().sum().item() == 0)
            #expect(try range(n).clamp(min: 1, max: 2).lerp(full([n], 4), 0.5).sum().item() == 3 * N - 1)
            let lastRow = Double(side) * Double(side - 1) * Double(side) + Double(side) * Double(side - 1) / 2
            #expect(try range(n).reshaped(side, side).sum([1]).amax().item() == lastRow)
            #expect(try allEqual(range(n).cumsum(0).slice(0, 3, 4), 6))
            #expect(try range(n).topk(3).values.doubles() == [N - 1, N - 2, N - 3])
            #expect(try (0 - range(n)).sorted().values.slice(0, 0, 2).doubles() == [1 - N, 2 - N])
            #expect(try range(n).gt(N / 2).logicalAnd(range(n).lt(N / 2 + 3)).sum().item() == 2)
        }
    }

    @Test func shapeOpsOnTemporaries() throws {
        for it in 0..<iterations {
            let k = Double(it)
            let parts = [try ones([n / 2]), try Tensor.zeros([n / 2], dtype: .float64), try full([n / 2], k)]
            #expect(try Tensor.cat(parts).sum().item() == N / 2 * (1 + k))
            #expect(try Tensor.cat([ones([n / 2]), Tensor.zeros([n / 2], dtype: .float64)]).slice(0, n / 2, n).sum().item() == 0)
            #expect(try Tensor.stack([full([n / 4], 1), full([n / 4], 2)], dim: 1).sum([0]).doubles() == [N / 4, N / 2])
            #expect(try Tensor.where_(range(n).lt(N / 2), ones([n]), full([n], -1)).sum().item() == 0)
            #expect(try range(n).maskedFill(range(n).ge(10), 0).sum().item() == 45)
            let evens = try Tensor.arange(0, N, step: 2, dtype: .int64)
            #expect(try range(n).indexSelect(0, evens).sum().item() == N / 2 * (N / 2 - 1))
            #expect(try range(n).indexSelect(0, Tensor.arange(1, N, step: 2, dtype: .int64)).sum().item() == N * N / 4)
            #expect(try range(n).reshaped(side, side).gather(1, Tensor.zeros([side, 1], dtype: .int64)).sum().item()
                    == N * Double(side - 1) / 2)
            #expect(try Tensor.embedding(range(n).reshaped(n / 4, 4), Tensor.arange(0, N / 4, dtype: .int64)).sum().item()
                    == N * (N - 1) / 2)
            #expect(try range(n).chunked(4)[3].amin().item() == 3 * N / 4)
            #expect(try range(n).split(sizes: [1, n - 1])[1].amin().item() == 1)
            #expect(try range(n).reshaped(side, side).T.contiguous().select(0, 1).sum().item()
                    == Double(side) * Double(side) * Double(side - 1) / 2 + Double(side))
            #expect(try range(n).reshaped(side, side).permuted(1, 0)[2].slice(0, 0, 3, step: 2).doubles() == [2, Double(2 * side + 2)])
            #expect(try ones([side, side]).padded([1, 1], value: k).sum().item() == N + 2 * Double(side) * k)
            #expect(try ones([side / 2, side]).repeated([2, 1]).tril().sum().item() == Double(side) * Double(side + 1) / 2)
            #expect(try ones([n]).expanded([2, n]).unsqueezed(0).squeezed(0).clone().sum().item() == 2 * N)
            #expect(try full([n], k).to(.float32).to(.float64).sum().item() == N * k)
        }
    }

    @Test func kernelsWithInlineWeightTemporaries() throws {
        for it in 0..<iterations {
            let k = Double(it)
            // linear with an inline, non-contiguous (transposed) weight and an inline bias
            let y = try ones([side, side]).linear(full([side, 4], 0.5).transposed(0, 1), full([4], k))
            #expect(y.shape == [side, 4])
            #expect(try allEqual(y, Double(side) / 2 + k))
            #expect(try allEqual(ones([side, side]).linear(full([2, side], 0.25)), Double(side) / 4))
            #expect(try allEqual(ones([side, side]).matmul(range(side).reshaped(side, 1)), Double(side * (side - 1) / 2)))
            #expect(try allEqual(ones([2, side, side / 2]).matmul(full([side / 2, 3], 2).T.T), Double(side)))
            let c = try ones([1, 4, side / 2, side / 2]).conv2d(full([2, 4, 1, 1], 0.25), bias: full([2], k))
            #expect(try allEqual(c, 1 + k))
            #expect(try allEqual(range(n).reshaped(side, side).layerNorm([side], weight: full([side], 0), bias: full([side], k)), k))
            #expect(try allEqual(range(n).reshaped(2, 4, side / 4, side / 2)
                .groupNorm(groups: 2, weight: Tensor.zeros([4], dtype: .float64), bias: full([4], k)), k))
            #expect(try allEqual(full([side, side], k).softmax(-1), 1 / Double(side)))
            #expect(try allEqual(ones([1, 1, side / 2, side / 2]).interpolate(height: side, width: side, mode: .bilinear), 1))
            let keyMask = try range(256).lt(128).reshaped(1, 1, 1, 256)    // 1/128: exact weights
            let a = try Tensor.scaledDotProductAttention(
                Tensor.zeros([1, 4, 256, 64], dtype: .float64), ones([1, 4, 256, 64]), full([1, 4, 256, 64], k),
                mask: keyMask, scale: 0.5)
            #expect(try allEqual(a, k))
            #expect(try allEqual(Tensor.scaledDotProductAttention(ones([1, 2, 128, 32]), ones([1, 2, 128, 32]),
                                                                  full([1, 2, 128, 32], 2), mask: range(128).ge(64).reshaped(1, 1, 1, 128)), 2))
        }
    }

    @Test func inPlaceUpdatesFromTemporaries() throws {
        let acc = try Tensor.zeros([n], dtype: .float64)
        for it in 0..<iterations {
            let k = Double(it)
            try withoutGrad {
                try acc.zero_()
                try acc.add_(ones([n]), alpha: 2)                              // 2
                try acc.addcmul_(full([n], 2), full([n], 3), value: 0.5)       // 5
                try acc.mul_(full([n], 2))                                     // 10
                try acc.div_(full([n], 4))                                     // 2.5
                try acc.addcdiv_(full([n], 3), full([n], 2), value: 1)         // 4
                try acc.lerp_(full([n], 8), 0.25)                              // 5
                try acc.add_(k)                                                // 5 + k
            }
            #expect(try allEqual(acc, 5 + k))
            try withoutGrad { try acc.copy_(range(n)) }
            #expect(try acc.sum().item() == N * (N - 1) / 2)
            try withoutGrad { try acc.copy_(full([1], k)) }
            #expect(try allEqual(acc, k))
        }
    }

    @Test func autogradWithTemporaries() throws {
        for it in 0..<iterations {
            let k = Double(it + 1)
            let p = try ones([n]).requiringGrad()
            try (p * full([n], 3)).sum().backward()
            #expect(try allEqual(#require(p.grad), 3))
            try (p * 2).backward(full([n], k))                                 // inline gradient temp
            #expect(try allEqual(#require(p.grad), 3 + 2 * k))
            try p.setGrad(full([n], -k))
            #expect(try allEqual(#require(p.grad), -k))
            try p.setGrad(nil)
            let w = try ones([side, side]).requiringGrad()
            try ones([4, side]).matmul(w).matmul(full([side, 1], 0.5)).sum().backward()
            #expect(try allEqual(#require(w.grad), 2))
            #expect(try !withoutGrad { try p * full([n], 2) }.requiresGrad)
            #expect(try (p * 1).detached().sum().item() == N)
        }
    }

    @Test func copiesOutAndGeneratorsFromTemporaries() throws {
        let reference = try Tensor.randn([n], dtype: .float64, generator: Generator(seed: 5)).sum().item()
        for it in 0..<iterations {
            let values = try full([n], Double(it)).toArray(Double.self)
            #expect(values.count == n && values.allSatisfy { $0 == Double(it) })
            #expect(try full([n], 1).bytes(as: .float32).count == 4 * n)
            #expect(try full([3], 2).description == "Tensor([3], float64, cpu) [2, 2, 2]")
            #expect(try Tensor.randn([n], dtype: .float64, generator: Generator(seed: 5)).sum().item() == reference)
            #expect(try Tensor.randint(0, 2, [n], generator: Generator(seed: 1)).sum().item() > 0)
            let g = try Generator(seed: 9)
            try g.setState(Generator(seed: 5).state())                         // state of a temporary
            #expect(try Tensor.randn([n], dtype: .float64, generator: g).sum().item() == reference)
            #expect(try full([n], 0.5).bernoulli(generator: Generator(seed: 2)).amax().item() == 1)
        }
    }

    @Test func borrowedMemoryWithATemporaryOwner() throws {
        for it in 0..<iterations {
            let flag = ReleaseFlag()
            let memory = UnsafeMutablePointer<Double>.allocate(capacity: n)
            memory.initialize(repeating: Double(it), count: n)
            defer { memory.deallocate() }
            do {
                let sum = try Tensor(borrowing: memory, shape: [n], dtype: .float64, owner: Owner(flag)).sum().item()
                #expect(sum == N * Double(it))
                #expect(flag.released)                                         // the temporary tensor died
                let t = try Tensor(borrowing: memory, shape: [side, side], dtype: .float64, owner: Owner(flag))
                flag.released = false
                memory[n - 1] = -1
                #expect(try t.amin().item() == -1)
                withExtendedLifetime(t) { #expect(!flag.released) }
            }
            #expect(flag.released)
        }
    }
}
