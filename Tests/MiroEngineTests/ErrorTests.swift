import Testing
import MiroEngine
import MiroFormats

// Bad input must become a thrown `EngineError` whose message names the problem (libtorch's own
// text, with the sizes) and whose category says what kind of problem it is, never a process abort
// (docs/engine.md rule 5). Each case also checks that the operation name is reported, and the
// suite ends by computing normally afterwards. Problems MiroEngine catches itself, before calling
// libtorch, are `ArgumentError`s instead.

struct ErrorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let operation: String
    /// Every one of these must appear in the message.
    let mentions: [String]
    let category: EngineError.Category
    let body: @Sendable () throws -> Void
    init(_ name: String, operation: String, mentions: [String], _ category: EngineError.Category,
         _ body: @escaping @Sendable () throws -> Void) {
        self.name = name
        self.operation = operation
        self.mentions = mentions
        self.category = category
        self.body = body
    }
    var testDescription: String { name }
}

private func f(_ shape: [Int]) throws -> Tensor { try Tensor.ones(shape) }

enum ErrorCases {
    static let all: [ErrorCase] = [
        ErrorCase("matmul inner-size mismatch", operation: "matmul", mentions: ["shape", "2x3", "4x5"], .shape) {
            _ = try f([2, 3]).matmul(f([4, 5]))
        },
        ErrorCase("batched matmul mismatch", operation: "matmul", mentions: ["size"], .shape) {
            _ = try f([2, 3, 4]).matmul(f([3, 3, 2]))
        },
        ErrorCase("reshape to a wrong element count", operation: "reshape", mentions: ["shape", "[4, 4]", "6"], .shape) {
            _ = try f([2, 3]).reshaped([4, 4])
        },
        ErrorCase("cat of mismatched shapes", operation: "cat", mentions: ["size", "3", "2"], .shape) {
            _ = try Tensor.cat([f([2, 3]), f([2, 2])], dim: 0)
        },
        ErrorCase("stack of mismatched shapes", operation: "stack", mentions: ["size"], .shape) {
            _ = try Tensor.stack([f([2, 3]), f([3, 2])])
        },
        ErrorCase("backward on a non-scalar without gradient", operation: "backward", mentions: ["scalar"], .shape) {
            let x = try f([3]).requiringGrad()
            try (x * 2).backward()
        },
        ErrorCase("backward with a wrongly shaped gradient", operation: "backward", mentions: ["shape"], .shape) {
            let x = try f([3]).requiringGrad()
            try (x * 2).backward(f([4]))
        },
        ErrorCase("backward through a graph that records nothing", operation: "backward", mentions: ["grad"], .internal) {
            try f([3]).sum().backward()
        },
        ErrorCase("select index out of range", operation: "select", mentions: ["index 5", "out of range", "3"], .shape) {
            _ = try f([3, 4]).select(0, 5)
        },
        ErrorCase("subscript out of range", operation: "select", mentions: ["out of range"], .shape) {
            _ = try f([2])[-3]
        },
        ErrorCase("dimension out of range", operation: "sum", mentions: ["Dimension out of range"], .shape) {
            _ = try f([2, 3]).sum([2])
        },
        ErrorCase("broadcast mismatch", operation: "add", mentions: ["size of tensor a (3)", "size of tensor b (4)"], .shape) {
            _ = try f([2, 3]) + f([4])
        },
        ErrorCase("item of a multi-element tensor", operation: "item", mentions: ["2 elements"], .shape) {
            _ = try f([2]).item()
        },
        ErrorCase("linear with the wrong in-features", operation: "linear", mentions: ["shape", "2x3", "4x5"], .shape) {
            _ = try f([2, 3]).linear(f([5, 4]))
        },
        ErrorCase("conv2d channel mismatch", operation: "conv2d", mentions: ["channels"], .shape) {
            _ = try f([1, 3, 5, 5]).conv2d(f([4, 2, 3, 3]))
        },
        ErrorCase("layerNorm over the wrong trailing shape", operation: "layer_norm", mentions: ["normalized_shape"], .shape) {
            _ = try f([2, 3]).layerNorm([4])
        },
        ErrorCase("groupNorm with indivisible channels", operation: "group_norm", mentions: ["divisible"], .shape) {
            _ = try f([1, 3, 2, 2]).groupNorm(groups: 2)
        },
        ErrorCase("integer tensors cannot require grad", operation: "requires_grad", mentions: ["floating point"], .dtype) {
            _ = try Tensor([1, 2] as [Int64]).requiringGrad()
        },
        ErrorCase("embedding index out of range", operation: "embedding", mentions: ["index out of range"], .shape) {
            _ = try Tensor.embedding(f([3, 2]), Tensor([3] as [Int64]))
        },
        ErrorCase("topk with k larger than the dimension", operation: "topk", mentions: ["k"], .shape) {
            _ = try f([3]).topk(4)
        },
        ErrorCase("split sizes that do not sum up", operation: "split", mentions: ["sum"], .shape) {
            _ = try f([5]).split(sizes: [2, 2])
        },
        ErrorCase("permute with a repeated dimension", operation: "permute", mentions: ["duplicate dims"], .shape) {
            _ = try f([2, 3]).permuted(0, 0)
        },
        ErrorCase("gather with a float index", operation: "gather", mentions: ["int64"], .dtype) {
            _ = try f([2, 2]).gather(0, f([2, 2]))
        },
        ErrorCase("in-place update of a leaf that requires grad", operation: "add_", mentions: ["leaf Variable"], .internal) {
            try f([2]).requiringGrad().add_(1)
        },
        ErrorCase("generator state of the wrong size", operation: "set_state", mentions: ["state"], .shape) {
            try Generator(seed: 1).setState([1, 2, 3])
        },
        ErrorCase("randint with an empty range", operation: "randint", mentions: ["from", "to"], .internal) {
            _ = try Tensor.randint(5, 5, [2])
        },
        ErrorCase("size of a dimension out of range", operation: "size", mentions: ["Dimension out of range", "5"], .shape) {
            _ = try f([2, 3]).size(at: 5)
        },
        ErrorCase("matmul of float32 and float64", operation: "matmul", mentions: ["float", "double"], .dtype) {
            _ = try f([2, 2]).matmul(Tensor.ones([2, 2], dtype: .float64))
        },
        ErrorCase("where with a float condition", operation: "where", mentions: ["bool"], .dtype) {
            _ = try Tensor.where_(f([2]), f([2]), f([2]))
        },
        ErrorCase("an allocation larger than any machine", operation: "new", mentions: ["allocate"], .outOfMemory) {
            _ = try Tensor.empty([1 << 48])
        },
        ErrorCase("a CUDA device that does not exist", operation: "new", mentions: [], .device) {
            _ = try Tensor.zeros([2], device: .cuda(Engine.cudaDeviceCount))
        },
        ErrorCase("moving to a CUDA device that does not exist", operation: "to", mentions: [], .device) {
            _ = try f([2]).to(device: .cuda(Engine.cudaDeviceCount))
        },
    ]
}

@Suite struct ErrorTests {
    @Test(arguments: ErrorCases.all)
    func throwsEngineErrorNamingTheProblem(_ c: ErrorCase) throws {
        let error = #expect(throws: EngineError.self) { try c.body() }
        let e = try #require(error)
        #expect(e.operation == c.operation, "operation of: \(e)")
        #expect(e.category == c.category, "category of: \(e)")
        // Case-insensitive: libtorch 1.13 says "Float"/"Double", 2.x "float"/"double".
        for m in c.mentions { #expect(e.message.lowercased().contains(m.lowercased()), "message should mention \(m): \(e.message)") }
        #expect(!e.message.contains("Exception raised from"), "the C++ backtrace leaked into: \(e.message)")
        #expect(e.description == "\(e.operation): \(e.message)")
    }

    @Test func processSurvivesAndLaterErrorsAreFresh() throws {
        for _ in 0..<50 {
            #expect(throws: EngineError.self) { try Tensor.ones([2, 3]).matmul(Tensor.ones([4, 5])) }
        }
        // Normal work still runs, and a different failure reports its own message, not a stale one.
        #expect(try Tensor.ones([2, 3]).matmul(Tensor.ones([3, 2])).sum().item() == 12)
        let e = #expect(throws: EngineError.self) { try Tensor.ones([2, 3]).reshaped([7]) }
        #expect(e?.message.contains("[7]") == true)
        #expect(e?.message.contains("2x3") == false)
    }

    /// `chunked` validates `dim` before using it (it used to trap in a Swift array index).
    @Test func chunkedWithABadDimensionThrows() throws {
        let e = #expect(throws: ArgumentError.self) { try Tensor.ones([4]).chunked(2, dim: 3) }
        #expect(e?.message.contains("3") == true)
    }

    /// Checks MiroEngine makes itself are `ArgumentError`s, not libtorch's `EngineError`s.
    @Test func swiftSideArgumentChecksThrowArgumentError() throws {
        let count = #expect(throws: ArgumentError.self) { try Tensor([1, 2, 3] as [Float], shape: [2, 2]) }
        #expect(count?.operation == "Tensor(_:shape:)")
        #expect(count?.message.contains("3 values") == true && count?.message.contains("[2, 2]") == true)
        let bytes = #expect(throws: ArgumentError.self) {
            let raw: [UInt8] = [0, 1, 2, 3, 4]
            _ = try raw.withUnsafeBytes { try Tensor(bytes: $0, shape: [2], dtype: .float32) }
        }
        #expect(bytes?.message.contains("5 bytes") == true && bytes?.message.contains("float32") == true)
        let chunks = #expect(throws: ArgumentError.self) { try Tensor.ones([4]).chunked(0) }
        #expect(chunks?.description == "chunk: chunks must be positive, got 0")
        #expect(throws: ArgumentError.self) {
            try Tensor.scaledDotProductAttention(Tensor.ones([1, 1, 2, 2]), Tensor.ones([1, 1, 2, 2]), Tensor.ones([1, 1, 2, 2]), scale: 0)
        }
    }

    @Test func errorsOnAnotherThreadStayThere() async throws {
        // The shim's error channel is thread-local: a failure on one thread must be reported on
        // that thread even while others fail differently at the same time.
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<8 {
                group.addTask {
                    let n = 10 + i
                    do { _ = try Tensor.ones([2, 3]).reshaped([n]) } catch let e as EngineError {
                        return e.message.contains("[\(n)]")
                    }
                    return false
                }
            }
            for try await ok in group { #expect(ok) }
        }
    }
}
