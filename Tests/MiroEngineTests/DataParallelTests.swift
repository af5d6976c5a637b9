import Foundation
import MiroEngine
import Testing

/// `DataParallel`: indices run at once on libtorch's threads, errors come back, and gradients taken per part add up
/// to the whole batch's.
@Suite struct DataParallelTests {
    /// Per-index slots written from several threads, each thread its own slot.
    final class Slots<T>: @unchecked Sendable {
        let values: UnsafeMutableBufferPointer<T>
        init(_ count: Int, _ initial: T) { values = .allocate(capacity: count); values.initialize(repeating: initial) }
        deinit { values.deinitialize(); values.deallocate() }
    }

    @Test func runsEveryIndexOnceOnSeparateThreadsWhenThereAreSeveral() throws {
        let threads = Slots<pthread_t?>(4, nil), runs = Slots<Int>(4, 0)
        try DataParallel.forEach(4) { i in
            threads.values[i] = pthread_self()
            runs.values[i] += 1
            // libtorch work inside runs as usual
            _ = try Tensor.ones([64, 64]).matmul(Tensor.ones([64, 64])).sum().item()
        }
        #expect(Array(runs.values) == [1, 1, 1, 1])
        let distinct = Set(threads.values.compactMap { $0 })
        // The region has min(indices, threads) threads: with one libtorch thread everything runs in turn here.
        #expect(distinct.count == min(4, Engine.threads), "\(distinct.count) threads for \(Engine.threads) libtorch threads")
    }

    @Test func rethrowsTheErrorOfTheLowestFailingIndex() throws {
        struct Failed: Error, Equatable { let index: Int }
        let runs = Slots<Int>(3, 0)
        #expect(throws: Failed(index: 1)) {
            try DataParallel.forEach(3) { i in
                runs.values[i] += 1
                if i > 0 { throw Failed(index: i) }
            }
        }
        #expect(Array(runs.values) == [1, 1, 1], "a failing index does not stop the others")
        try DataParallel.forEach(0) { _ in Issue.record("no index to run") }
    }

    @Test func gradientsPerPartAddUpToTheWholeBatchGradient() throws {
        let x = try Tensor.randn([6, 3], generator: Generator(seed: 1))
        let w = try Tensor.randn([3, 2], generator: Generator(seed: 2)).requiringGrad()
        let unused = try Tensor.randn([2], generator: Generator(seed: 3)).requiringGrad()
        // mean over the batch, as the training loss: the parts' losses weighted by their share
        try x.matmul(w).pow(2).mean().backward()
        let whole = try #require(w.grad)
        try w.setGrad(nil)

        var parts: [[Tensor?]] = []
        for (rows, weight) in [(0..<2, 2.0 / 6), (2..<6, 4.0 / 6)] {
            let loss = try x.slice(0, rows.lowerBound, rows.upperBound).matmul(w).pow(2).mean() * weight
            parts.append(try DataParallel.gradients(of: loss, withRespectTo: [w, unused]))
        }
        #expect(w.grad == nil, "gradients(of:) leaves .grad alone")
        #expect(parts.allSatisfy { $0[1] == nil }, "an input the output does not reach has no gradient")
        try DataParallel.accumulate(parts, into: [w, unused])
        let summed = try #require(w.grad)
        #expect(try (summed - whole).abs().amax().item() < 1e-6)
        #expect(unused.grad == nil)
        #expect(throws: (any Error).self) { try DataParallel.accumulate([[nil]], into: [w, unused]) }
    }
}
