import CTorch
import MiroEngine
import Testing

// The C shim's own contract (ctorch.h): every entry point, accessors and in-place ops included,
// reports failures as a status category plus a message and never lets a C++ exception out. These
// tests call the C functions directly, with arguments the Swift wrapper never passes (NULL
// handles, unknown codes, dimensions out of range), which is how a bug in a wrapper would reach it.

private func status(_ s: mt_status) -> Int { Int(s) }
private func lastError() -> String { String(cString: mt_last_error()) }

/// A fresh 2×3 float32 tensor handle, freed after `body`.
private func withMatrix<R>(_ body: (OpaquePointer) throws -> R) throws -> R {
    let shape: [Int64] = [2, 3]
    let h = try #require(mt_new(Int32(MT_FILL_ONES), shape, 2, Int32(MT_F32), Int32(MT_CPU)))
    defer { mt_free(h) }
    return try body(h)
}

@Suite struct ShimContractTests {
    @Test func accessorsReportBadArgumentsAsStatuses() throws {
        try withMatrix { h in
            var size: Int64 = -7
            #expect(status(mt_size(h, 5, &size)) == MT_ERR_SHAPE)
            #expect(lastError().contains("Dimension out of range"))
            #expect(size == -7, "a failed accessor leaves its out-parameter alone")
            #expect(status(mt_size(h, -1, &size)) == MT_OK && size == 3)

            var rank: Int32 = 0
            var dtype: Int32 = -1
            var device: Int32 = -1
            var index: Int32 = 0
            #expect(status(mt_dim(h, &rank)) == MT_OK && rank == 2)
            #expect(status(mt_dtype(h, &dtype)) == MT_OK && Int(dtype) == MT_F32)
            #expect(status(mt_device(h, &device, &index)) == MT_OK && Int(device) == MT_CPU && index == -1)
        }
        // A NULL handle is a bug in the caller: an internal error, not a crash.
        var rank: Int32 = 0
        var flag = false
        #expect(status(mt_dim(nil, &rank)) == MT_ERR_INTERNAL)
        #expect(lastError().contains("null tensor handle"))
        #expect(status(mt_is_contiguous(nil, &flag)) == MT_ERR_INTERNAL)
        #expect(status(mt_requires_grad(nil, &flag)) == MT_ERR_INTERNAL)
        #expect(status(mt_same_storage(nil, nil, &flag)) == MT_ERR_INTERNAL)
        try withMatrix { h in #expect(status(mt_dim(h, nil)) == MT_ERR_INTERNAL) }    // NULL out-parameter
    }

    @Test func inPlaceOpsCheckTheirTarget() throws {
        try withMatrix { h in
            #expect(status(mt_add_(nil, h, 1)) == MT_ERR_INTERNAL)
            #expect(status(mt_add_(h, nil, 1)) == MT_ERR_INTERNAL)
            #expect(status(mt_zero_(nil)) == MT_ERR_INTERNAL)
            #expect(status(mt_copy_(nil, h)) == MT_ERR_INTERNAL)
            #expect(status(mt_uniform_(nil, 0, 1, nil)) == MT_ERR_INTERNAL)
            #expect(status(mt_fill_(h, 2)) == MT_OK)
        }
    }

    @Test func unknownCodesAreCategorised() throws {
        try withMatrix { h in
            #expect(mt_to(h, 99, Int32(MT_CPU), -1) == nil)
            #expect(status(mt_last_status()) == MT_ERR_DTYPE)
            #expect(lastError().contains("unknown dtype code 99"))
            #expect(mt_to(h, Int32(MT_F32), 7, -1) == nil)
            #expect(status(mt_last_status()) == MT_ERR_DEVICE)
            #expect(mt_unary(1000, h) == nil)
            #expect(status(mt_last_status()) == MT_ERR_INTERNAL)
            var out = [Float](repeating: 0, count: 6)
            #expect(status(mt_copy_out(h, 99, &out, 24)) == MT_ERR_DTYPE)
            #expect(status(mt_copy_out(h, Int32(MT_F32), &out, 20)) == MT_ERR_SHAPE)
        }
    }

    @Test func gradDistinguishesNoGradientFromFailure() throws {
        try withMatrix { h in
            var g: OpaquePointer? = OpaquePointer(bitPattern: 1)
            #expect(status(mt_grad(h, &g)) == MT_OK)
            #expect(g == nil, "no gradient yet: success with a NULL result")
        }
        var g: OpaquePointer?
        #expect(status(mt_grad(nil, &g)) == MT_ERR_INTERNAL, "a failure is a status, not a NULL gradient")
        #expect(g == nil)

        // The same distinction in Swift: nil before backward, a tensor after.
        let p = try Tensor.ones([3]).requiringGrad()
        #expect(try p.gradient() == nil)
        #expect(p.grad == nil)
        try (p * 2).sum().backward()
        let g2 = try p.gradient()
        #expect(try #require(g2).doubles() == [2, 2, 2])
    }

    @Test func generatorEntryPointsCheckTheirHandle() {
        var seed: UInt64 = 0
        #expect(status(mt_generator_initial_seed(nil, &seed)) == MT_ERR_INTERNAL)
        #expect(status(mt_generator_set_seed(nil, 1)) == MT_ERR_INTERNAL)
        #expect(mt_generator_get_state(nil) == nil)
        #expect(status(mt_last_status()) == MT_ERR_INTERNAL)
    }

    @Test func settingZeroThreadsIsAnErrorNotAnAbort() {
        var before: Int32 = 0
        #expect(status(mt_get_num_threads(&before)) == MT_OK)
        #expect(status(mt_set_num_threads(0)) != MT_OK)
        #expect(lastError().contains("thread"))
        var after: Int32 = 0
        #expect(status(mt_get_num_threads(&after)) == MT_OK && after == before)
    }
}

@Suite struct ErrorCategoryTests {
    /// The acceptance case: a bad dimension is a categorised Swift error, not a crash.
    @Test func sizeOfAMissingDimensionThrowsAShapeError() throws {
        let t = try Tensor.ones([2, 3])
        let e = #expect(throws: EngineError.self) { try t.size(at: 5) }
        #expect(e?.category == .shape)
        #expect(e?.operation == "size")
        #expect(try t.size(at: -1) == 3)
        #expect(t.size(1) == 3)
    }

    @Test func dtypeMismatchIsADtypeError() throws {
        let e = #expect(throws: EngineError.self) {
            try Tensor.ones([2, 2]).matmul(Tensor.ones([2, 2], dtype: .float64))
        }
        #expect(e?.category == .dtype)
    }

    @Test func everyTensorHasAKnownDtype() throws {
        for dtype in DType.allCases {
            let t = try Tensor.zeros([2], dtype: dtype)
            #expect(t.dtype == dtype)
            #expect(try t.elementType() == dtype)
        }
    }

    /// Raw values are the header's codes, and a code the header does not define names no dtype.
    @Test func rawValuesComeFromTheHeader() {
        #expect(DType.allCases.map { Int($0.rawValue) } == [MT_F32, MT_F16, MT_BF16, MT_I64, MT_BOOL, MT_F64, MT_U8, MT_I32])
        #expect(DType.allCases.allSatisfy { DType(rawValue: $0.rawValue) == $0 })
        #expect(DType(rawValue: 99) == nil)
        #expect(Tensor.InterpolationMode.allCases.map { Int($0.rawValue) }
                == [MT_INTERP_NEAREST, MT_INTERP_BILINEAR, MT_INTERP_BICUBIC, MT_INTERP_AREA])
    }

    @Test func legacyInitializerKeepsItsShape() {
        let e = EngineError("Lamb", "invalid betas")
        #expect(e.category == .internal)
        #expect(e.description == "Lamb: invalid betas")
        #expect(EngineError("x", "y", category: .outOfMemory).category == .outOfMemory)
    }

    @Test func categoriesHaveReadableNames() {
        #expect(EngineError.Category.allCases.map(\.description) == ["shape", "dtype", "out of memory", "device", "internal"])
    }
}
