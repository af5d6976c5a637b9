import Foundation
import Testing
import MiroEngine
import MiroFormats

@Suite struct TensorCreationTests {
    @Test func zerosOnesFullEmpty() throws {
        let z = try Tensor.zeros([2, 3])
        #expect(z.shape == [2, 3] && z.rank == 2 && z.count == 6 && z.dtype == .float32 && z.device == .cpu)
        #expect(try z.floats() == [Float](repeating: 0, count: 6))
        #expect(try Tensor.ones([4], dtype: .int64).toArray(Int64.self) == [1, 1, 1, 1])
        #expect(try Tensor.full([2, 2], 2.5, dtype: .float64).doubles() == [2.5, 2.5, 2.5, 2.5])
        #expect(try Tensor.empty([3, 0, 2]).count == 0)
        let s = try Tensor.scalar(7)
        #expect(s.rank == 0 && s.shape == [] && s.count == 1)
        #expect(try s.item() == 7)
    }

    @Test func arangeAndLinspace() throws {
        #expect(try Tensor.arange(0, 5).floats() == [0, 1, 2, 3, 4])
        #expect(try Tensor.arange(1, 2, step: 0.25, dtype: .float64).doubles() == [1, 1.25, 1.5, 1.75])
        let r = try Tensor.arange(0, 4, dtype: .int64)
        #expect(r.dtype == .int64)
        #expect(try r.toArray(Int64.self) == [0, 1, 2, 3])
        #expect(try Tensor.arange(5, 0, step: -2).floats() == [5, 3, 1])
        #expect(try Tensor.linspace(0, 1, count: 5).floats() == [0, 0.25, 0.5, 0.75, 1])
        #expect(try Tensor.linspace(-1, 1, count: 3, dtype: .float64).doubles() == [-1, 0, 1])
    }

    @Test func fromArraysOfEveryElementType() throws {
        func roundTrip<T: TensorElement & Equatable>(_ values: [T], _ shape: [Int]) throws {
            let t = try Tensor(values, shape: shape)
            #expect(t.dtype == T.dtype)
            #expect(t.shape == shape)
            #expect(try t.toArray(T.self) == values)
        }
        try roundTrip([1.5, -2, 3e-3, .infinity] as [Float], [2, 2])
        try roundTrip([1.0 / 3, -1e300, 0] as [Double], [3])
        try roundTrip([Int64.min, -1, 0, Int64.max], [4, 1])
        try roundTrip([Int32.min, 7, Int32.max], [3])
        try roundTrip([0, 128, 255] as [UInt8], [1, 3])
        try roundTrip([true, false, false, true], [2, 2])
        #if !(os(macOS) && arch(x86_64))
        try roundTrip([1.5, -0.25, 65504] as [Float16], [3])
        #expect(try Tensor([Float16(1)]).dtype == .float16)
        #endif
        let oneD = try Tensor([1, 2, 3] as [Int32])
        #expect(oneD.shape == [3])
        #expect(try Tensor([Double](), shape: [0, 4]).shape == [0, 4])
    }

    @Test func bytesInAndOut() throws {
        let t = try Tensor([1, 258] as [Int32])
        #expect(try t.bytes() == [1, 0, 0, 0, 2, 1, 0, 0])
        #expect(try Tensor([1.0] as [Float]).bytes(as: .float16) == [0x00, 0x3C])
        let raw: [UInt8] = [0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0]                 // 1.0f, -2.0f little-endian
        let u = try raw.withUnsafeBytes { try Tensor(bytes: $0, shape: [2], dtype: .float32) }
        #expect(try u.floats() == [1, -2])
        #expect(try u.bytes() == raw)
    }

    @Test func dtypeConversions() throws {
        let x = try Tensor([1.7, -2.7, 0, 3] as [Float])
        #expect(try x.to(.int64).toArray(Int64.self) == [1, -2, 0, 3])          // truncation toward zero
        #expect(try x.to(.bool).toArray(Bool.self) == [true, true, false, true])
        #expect(try x.to(.float64).dtype == .float64)
        #expect(try x.to(.float16).to(.float32).floats() == [1.7, -2.7, 0, 3].map { Float(Float16($0)) })
        #expect(try x.to(.bfloat16).dtype == .bfloat16)
        #expect(try x.toArray(Int32.self) == [1, -2, 0, 3])                      // toArray converts too
        #expect(try Tensor([true, false]).to(.float32).floats() == [1, 0])
        #expect(try Tensor([200] as [UInt8]).to(.int32).toArray(Int32.self) == [200])
        #expect(try x.to().dtype == .float32)
    }

    @Test func facts() throws {
        let x = try Tensor.zeros([2, 3, 4])
        #expect(x.size(0) == 2 && x.size(-1) == 4 && x.size(-3) == 2)
        #expect(x.isContiguous)
        let t = try x.transposed(0, 2)
        #expect(t.shape == [4, 3, 2] && !t.isContiguous)
        #expect(try t.contiguous().isContiguous)
        #expect(try x.T.shape == [2, 4, 3])
        #expect(Engine.torchVersion.split(separator: ".").count >= 2)
        #expect(Engine.threads >= 1)
        #expect(!Engine.buildConfiguration.isEmpty)
        #expect(Device(parsing: "cuda:1") == .cuda(1) && Device(parsing: "cpu") == .cpu && Device(parsing: "gpu") == nil)
        #expect(DType.allCases.map(\.byteSize) == [4, 2, 2, 8, 1, 8, 1, 4])
        #expect(DType.bfloat16.description == "bfloat16" && DType.float16.isFloatingPoint && !DType.int32.isFloatingPoint)
    }

    /// MKL (PyTorch's own builds) takes its generic AVX2 path on any non-Intel CPU unless the shim's answer to its
    /// vendor check is the one the dynamic linker binds (mkl_dispatch.cpp): on such a CPU, with AVX2 and FMA, the
    /// feature path must be on, and nowhere else.
    @Test func mklPicksKernelsByFeaturesWhereItWouldNotOtherwise() throws {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        func field(_ name: String) -> String {
            cpuinfo.split(separator: "\n").first { $0.hasPrefix(name) }.map { String($0.split(separator: ":").last ?? "") } ?? ""
        }
        let flags = Set(field("flags").split(separator: " ").map(String.init))
        let vendor = field("vendor_id").trimmingCharacters(in: .whitespaces)
        let optedOut = ProcessInfo.processInfo.environment["MIRO_MKL_VENDOR_CHECK"] == "1"
        let expected = Engine.buildConfiguration.contains("BLAS_INFO=mkl") && !vendor.isEmpty && vendor != "GenuineIntel"
            && flags.isSuperset(of: ["avx2", "fma"]) && !optedOut
        #expect(Engine.mklFeatureDispatch == expected, "vendor \(vendor), \(Engine.summary)")
        #expect(Engine.summary.contains("MKL feature dispatch") == expected)
    }

    @Test func descriptionFormat() throws {
        #expect(try Tensor.arange(0, 6).reshaped(2, 3).description == "Tensor([2, 3], float32, cpu) [0, 1, 2, 3, 4, 5]")
        #expect(try Tensor.arange(0, 10, dtype: .int64).description
            == "Tensor([10], int64, cpu) [0, 1, 2, 3, 4, 5, 6, 7, …]")
        #expect(try Tensor([true, false]).description == "Tensor([2], bool, cpu) [true, false]")
        #expect(try Tensor([0.5, 1.0 / 3]).requiringGrad().description == "Tensor([2], float64, cpu, requires_grad) [0.5, 0.3333]")
        #expect(try Tensor.zeros([0]).description == "Tensor([0], float32, cpu)")
    }
}

@Suite struct TensorValueTests {
    let x: Tensor = try! Tensor([1, 2, 3, 4, 5, 6] as [Double], shape: [2, 3])

    @Test func reductionValues() throws {
        #expect(try x.sum().item() == 21)
        #expect(try x.sum([0]).doubles() == [5, 7, 9])
        #expect(try x.sum([1], keepDim: true).shape == [2, 1])
        #expect(try x.mean([1]).doubles() == [2, 5])
        #expect(try x.mean().item() == 3.5)
        #expect(try x.amax().item() == 6 && x.amin([1]).doubles() == [1, 4])
        #expect(try x.amax([0], keepDim: true).shape == [1, 3])
        #expect(try x.prod().item() == 720 && x.prod([1]).doubles() == [6, 120])
        #expect(try x.variance().item() == 3.5)
        #expect(try Swift.abs(x.variance(unbiased: false).item() - 35.0 / 12) < 1e-15)
        #expect(try x.std([1]).doubles() == [1, 1])
        #expect(try Swift.abs(x.norm().item() - Double(91).squareRoot()) < 1e-14)
        #expect(try x.norm([1]).doubles() == [Double(14).squareRoot(), Double(77).squareRoot()])
        let lse = try x.logsumexp([1]).doubles()
        #expect(Swift.abs(lse[0] - Foundation.log(Foundation.exp(1.0) + Foundation.exp(2) + Foundation.exp(3))) < 1e-14)
        #expect(try x.argmax().toArray(Int64.self) == [5])
        #expect(try x.argmax(1).toArray(Int64.self) == [2, 2])
        #expect(try x.argmin(0, keepDim: true).shape == [1, 3])
        #expect(try x.cumsum(1).doubles() == [1, 3, 6, 4, 9, 15])
        let (v, i) = try x.topk(2, dim: 1)
        #expect(try v.doubles() == [3, 2, 6, 5] && i.toArray(Int64.self) == [2, 1, 2, 1])
        let s = try Tensor([3.0, 1, 2]).sorted(descending: true)
        #expect(try s.values.doubles() == [3, 2, 1] && s.indices.toArray(Int64.self) == [0, 2, 1])
        let b = try Tensor([true, false, false, false], shape: [2, 2])
        #expect(try b.any().item() == 1 && b.all().item() == 0)
        #expect(try b.any([1]).toArray(Bool.self) == [true, false])
    }

    /// keepDim over all dimensions keeps a size-1 axis per dimension, as `torch.sum(x, dim=(0, 1), keepdim=True)`.
    @Test func keepDimOverAllDimensions() throws {
        #expect(try x.sum(keepDim: true).shape == [1, 1])
        #expect(try x.mean(keepDim: true).shape == [1, 1])
        #expect(try x.amax(keepDim: true).shape == [1, 1])
        #expect(try x.std(keepDim: true).shape == [1, 1])
        #expect(try x.prod(keepDim: true).shape == [1, 1])
        #expect(try x.gt(0).any(keepDim: true).shape == [1, 1])
        #expect(try x.gt(0).all(keepDim: true).shape == [1, 1])
    }

    @Test func elementwiseValues() throws {
        #expect(try (x * 2 - 1).doubles() == [1, 3, 5, 7, 9, 11])
        #expect(try (1 - x).doubles() == [0, -1, -2, -3, -4, -5])
        // scalar / tensor is reciprocal(x) · s, as PyTorch's __rtruediv__ (12 · (1/5) ≠ 2.4 exactly)
        #expect(try (12 / x).doubles() == [1.0, 2, 3, 4, 5, 6].map { 12 * (1 / $0) })
        #expect(try (x + Tensor([10.0, 20, 30])).doubles() == [11, 22, 33, 14, 25, 36])   // broadcast
        #expect(try x.pow(2).doubles() == [1, 4, 9, 16, 25, 36])
        #expect(try x.maximum(3.5).doubles() == [3.5, 3.5, 3.5, 4, 5, 6])
        #expect(try x.clamp(min: 2, max: 4).doubles() == [2, 2, 3, 4, 4, 4])
        #expect(try Tensor([-1.5, 0.4, 2.5]).relu().doubles() == [0, 0.4, 2.5])
        #expect(try Tensor([-1.5, 0.5, 2.5]).rounded().doubles() == [-2, 0, 2])              // half to even
        #expect(try Tensor([0.0, 2]).lerp(Tensor([1.0, 0]), 0.25).doubles() == [0.25, 1.5])
    }

    @Test func comparisons() throws {
        let a = try Tensor([1.0, 2, 3]), b = try Tensor([3.0, 2, 1])
        #expect(try a.eq(b).dtype == .bool)
        #expect(try a.eq(b).toArray(Bool.self) == [false, true, false])
        #expect(try a.ne(b).toArray(Bool.self) == [true, false, true])
        #expect(try a.lt(b).toArray(Bool.self) == [true, false, false])
        #expect(try a.le(b).toArray(Bool.self) == [true, true, false])
        #expect(try a.gt(2).toArray(Bool.self) == [false, false, true])
        #expect(try a.ge(2).toArray(Bool.self) == [false, true, true])
        #expect(try a.eq(1).toArray(Bool.self) == [true, false, false])
        #expect(try a.lt(2).logicalOr(a.gt(2)).toArray(Bool.self) == [true, false, true])
        #expect(try a.le(2).logicalAnd(a.ge(2)).logicalNot().toArray(Bool.self) == [true, false, true])
        let odd = try Tensor([Double.nan, .infinity, 1])
        #expect(try odd.isNaN().toArray(Bool.self) == [true, false, false])
        #expect(try odd.isFinite().toArray(Bool.self) == [false, false, true])
    }
}

@Suite struct AutogradBasicsTests {
    @Test func withoutGradRecordsNoGraph() throws {
        let w = try Tensor([1.0, 2]).requiringGrad()
        #expect(GradMode.isEnabled)
        let y = try GradMode.withoutGrad {
            #expect(!GradMode.isEnabled)
            let inner = try GradMode.withGrad { try (w * 2).requiresGrad }
            #expect(inner)
            #expect(!GradMode.isEnabled)
            return try (w * w).sum()
        }
        #expect(GradMode.isEnabled)
        #expect(!y.requiresGrad && y.isLeaf)
        #expect(throws: EngineError.self) { try y.backward() }
        #expect(try withoutGrad { try w.exp() }.requiresGrad == false)
        #expect(try w.exp().requiresGrad)
    }

    @Test func gradIsNilBeforeBackwardAndSettable() throws {
        let p = try Tensor([1.0, -2]).requiringGrad()
        #expect(p.requiresGrad && p.isLeaf && p.grad == nil)
        let loss = try (p * p).sum()
        #expect(!loss.isLeaf && p.grad == nil)
        try loss.backward()
        let g = try #require(p.grad)
        #expect(try g.doubles() == [2, -4])
        #expect(try #require(p.grad).isSame(as: g))                  // two handles, one tensor
        try p.setGrad(Tensor([5.0, 6]))
        #expect(try #require(p.grad).doubles() == [5, 6])
        try p.setGrad(nil)
        #expect(p.grad == nil)
        try (p * 3).sum().backward()
        try (p * 3).sum().backward()                                  // accumulates
        #expect(try #require(p.grad).doubles() == [6, 6])
        #expect(try !p.requiringGrad(false).requiresGrad)
    }

    @Test func detachedSharesStorageOffTheGraph() throws {
        let p = try Tensor([1.0, 2, 3]).requiringGrad()
        let y = try p * 2
        let d = try y.detached()
        #expect(!d.requiresGrad && d.isLeaf && !d.isSame(as: y))
        try d.fill_(9)                                                // same storage
        #expect(try y.doubles() == [9, 9, 9])
        #expect(try !p.isSame(as: p.clone()) && !p.isSame(as: p.detached()))
    }

    @Test func inPlaceOpsKeepIdentityAndStorage() throws {
        let p = try Tensor([1.0, 2, 3, 4]).requiringGrad()
        try (p * p).sum().backward()
        let g = try #require(p.grad)                                  // what an optimizer holds
        let view = try p.detached().reshaped(2, 2)                    // another handle on p's storage
        func expectP(_ v: [Double], _ comment: Comment) throws {
            #expect(try p.doubles() == v, comment)
            #expect(try view.doubles() == v, "storage replaced by \(comment)")
            #expect(p.requiresGrad && p.isLeaf)
        }
        #expect(throws: EngineError.self) { try p.add_(1) }         // a leaf that requires grad
        try withoutGrad {
            let one = try Tensor([1.0, 1, 1, 1]), two = try Tensor([2.0, 2, 2, 2])
            try p.add_(one, alpha: 2); try expectP([3, 4, 5, 6], "add_(alpha)")
            try p.add_(0.5); try expectP([3.5, 4.5, 5.5, 6.5], "add_(scalar)")
            try p.mul_(two); try expectP([7, 9, 11, 13], "mul_")
            try p.mul_(0.5); try expectP([3.5, 4.5, 5.5, 6.5], "mul_(scalar)")
            try p.div_(Tensor([0.5])); try expectP([7, 9, 11, 13], "div_ (broadcast)")
            try p.addcmul_(one, two, value: 0.5); try expectP([8, 10, 12, 14], "addcmul_")
            try p.addcdiv_(two, Tensor([4.0]), value: 2); try expectP([9, 11, 13, 15], "addcdiv_")
            try p.lerp_(Tensor([1.0, 3, 5, 7]), 0.25); try expectP([7, 9, 11, 13], "lerp_")
            try p.clamp_(min: 8, max: 12); try expectP([8, 9, 11, 12], "clamp_")
            try p.copy_(Tensor([1, 2, 3, 4] as [Float])); try expectP([1, 2, 3, 4], "copy_ (f32 source)")
            try p.copy_(Tensor([0.5])); try expectP([0.5, 0.5, 0.5, 0.5], "copy_ (broadcast)")
            try p.fill_(-1); try expectP([-1, -1, -1, -1], "fill_")
            try p.zero_(); try expectP([0, 0, 0, 0], "zero_")
            try g.mul_(10)
        }
        let g2 = try #require(p.grad)
        #expect(g2.isSame(as: g))
        #expect(try g2.doubles() == [20, 40, 60, 80])
    }

    @Test func borrowingDoesNotCopyAndReleasesTheOwner() throws {
        let flag = ReleaseFlag()
        let memory = UnsafeMutablePointer<Float>.allocate(capacity: 4)
        memory.initialize(from: [1, 2, 3, 4], count: 4)
        defer { memory.deallocate() }
        do {
            let t = try Tensor(borrowing: memory, shape: [2, 2], dtype: .float32, owner: Owner(flag))
            #expect(!flag.released)                                   // owner retained by libtorch
            memory[2] = 30                                            // visible: no copy was made
            #expect(try t.floats() == [1, 2, 30, 4])
            let row = try t[1]                                        // a view keeps the storage alive
            try withoutGrad { try t.mul_(2) }
            #expect(memory[0] == 2 && memory[3] == 8)                 // writes go to the memory too
            withExtendedLifetime(t) {}
            #expect(!flag.released)
            #expect(try row.floats() == [60, 8])
        }
        #expect(flag.released)                                        // both handles gone
    }
}

extension AutogradBasicsTests {
    /// A failed wrap releases the owner exactly once (a double release would crash here).
    @Test func borrowingFailureReleasesTheOwnerOnce() throws {
        let flag = ReleaseFlag()
        let memory = UnsafeMutablePointer<Float>.allocate(capacity: 4)
        defer { memory.deallocate() }
        #expect(throws: EngineError.self) {
            try Tensor(borrowing: memory, shape: [-1, 2], dtype: .float32, owner: Owner(flag))
        }
        #expect(flag.released)
    }
}

final class ReleaseFlag: @unchecked Sendable { var released = false }

final class Owner {
    let flag: ReleaseFlag
    init(_ flag: ReleaseFlag) { self.flag = flag }
    deinit { flag.released = true }
}
