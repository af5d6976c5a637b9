import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroNN
import MiroOptim

/// The released architecture's state-dict entries (from the official miro-t2i 0.1.4 code), by key.
func releasedKeys() throws -> [String: (shape: [Int], dtype: String)] {
    let text = try String(contentsOf: Fixtures.url("miro-state-dict-keys.tsv"), encoding: .utf8)
    var out: [String: ([Int], String)] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let f = line.split(separator: "\t").map(String.init)
        guard f.count >= 3 else { continue }
        let shape = f[1].trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        out[f[0]] = (shape, f[2])
    }
    return out
}

/// Entries under `prefix`, with the prefix removed.
func released(under prefix: String) throws -> [String: [Int]] {
    var out: [String: [Int]] = [:]
    for (k, v) in try releasedKeys() where k.hasPrefix(prefix) { out[String(k.dropFirst(prefix.count))] = v.shape }
    return out
}

func shapes(_ m: Module) -> [String: [Int]] {
    Dictionary(uniqueKeysWithValues: m.stateDict().map { ($0.0, $0.1.shape) })
}

@Suite struct ModuleKeyTests {
    @Test func processingBlockMatchesReleasedKeys() throws {
        let block = try SelfAttentionBlock(dim: 1024, heads: 32)
        #expect(shapes(block) == (try released(under: "network.rin_blocks.0.processer_sa.0.")))
    }

    @Test func textTransformerBlockMatchesReleasedKeys() throws {
        var o = SelfAttentionBlock.Options()
        o.norm = .layer; o.swiGLU = false; o.qkvBias = true; o.qkNorm = false; o.layerScale = 0.1
        let block = try SelfAttentionBlock(dim: 1024, heads: 16, options: o)
        #expect(shapes(block) == (try released(under: "network.transformers_blocks.0.")))
    }

    @Test(arguments: [
        ("retrieve_cond", 1024, 1024, 16),
        ("retriever_ca", 1024, 512, 16),
        ("writer_ca", 512, 1024, 16),
    ])
    func crossAttentionBlocksMatchReleasedKeys(name: String, queryDim: Int, contextDim: Int, heads: Int) throws {
        let block = try CrossAttentionBlock(queryDim: queryDim, contextDim: contextDim, heads: heads)
        #expect(shapes(block) == (try released(under: "network.rin_blocks.0.\(name).")))
    }

    @Test func nestedArraysGetIndexedKeys() throws {
        final class Stack: Module {
            @Child(key: "processer_sa") var layers: [SelfAttentionBlock]
            @Child(key: "map_out") var head: Linear
            override init() {
                super.init()
            }
        }
        let s = Stack()
        s.layers = [try SelfAttentionBlock(dim: 8, heads: 2), try SelfAttentionBlock(dim: 8, heads: 2)]
        s.head = try Linear(8, 4, bias: false)
        let keys = Set(s.stateDict().map(\.0))
        #expect(keys.contains("processer_sa.1.sa.qkv.weight"))
        #expect(keys.contains("processer_sa.0.ffn.linear_packed.bias"))
        #expect(keys.contains("map_out.weight"))
        #expect(!keys.contains("map_out.bias"))
        #expect(s.namedModules().map(\.0).contains("processer_sa.1.sa.q_norm"))
    }

    @Test func parameterCountsAndFreezing() throws {
        let lin = try Linear(10, 4)
        #expect(lin.parameterCount == 44)
        #expect(lin.trainableParameters().count == 2)
        try lin.freeze()
        #expect(lin.trainableParameters().isEmpty)
        try lin.unfreeze()
        #expect(lin.trainableParameters().count == 2)
        // Bool masks are buffers: in the state dict, not among parameters.
        let block = try SelfAttentionBlock(dim: 8, heads: 2)
        #expect(block.namedBuffers().map(\.0) == ["attention_mask_dummy"])
        #expect(!block.namedParameters().contains { $0.0 == "attention_mask_dummy" })
    }

    @Test func trainEvalPropagates() throws {
        let block = try SelfAttentionBlock(dim: 8, heads: 2)
        block.eval()
        #expect(block.namedModules().allSatisfy { !$0.1.training })
        block.train()
        #expect(block.namedModules().allSatisfy { $0.1.training })
    }

    @Test func miroParameterGroupsSplitNormsAndBiases() throws {
        let block = try SelfAttentionBlock(dim: 16, heads: 2)
        let groups = ParameterGroup.miro(block, learningRate: 1e-3, weightDecay: 0.01)
        let decay = Set(groups[0].parameters.map(\.name)), noDecay = Set(groups[1].parameters.map(\.name))
        #expect(decay == ["sa.qkv.weight", "sa.out.weight", "ffn.linear_packed.weight", "ffn.linear_out.weight"])
        #expect(noDecay.contains("initial_ln.weight") && noDecay.contains("sa.q_norm.bias") && noDecay.contains("sa.out.bias"))
        #expect(groups[0].layerAdaptation == true && groups[1].layerAdaptation == false && groups[1].weightDecay == 0)
        #expect(decay.count + noDecay.count == block.trainableParameters().count)
    }
}

@Suite struct StateDictLoadingTests {
    @Test func strictLoadReportsEveryProblemAndChangesNothing() throws {
        let lin = try Linear(3, 2)
        let before = try lin.weight.doubles()
        let weights: [String: Tensor] = [
            "weight": try Tensor.zeros([2, 4]),   // mis-shaped
            "extra.weight": try Tensor.zeros([1]), // unexpected
        ]                                          // "bias" missing
        do {
            try lin.load(weights)
            Issue.record("strict load of a mismatching state dict must throw")
        } catch let error as StateDictError {
            #expect(error.report.missing == ["bias"])
            #expect(error.report.unexpected == ["extra.weight"])
            #expect(error.report.mismatched.map(\.key) == ["weight"])
            #expect(error.description.contains("weight: model [2, 3], file [2, 4]"))
        }
        #expect(try lin.weight.doubles() == before)
    }

    @Test func nonStrictLoadCopiesMatchesKeepsIdentityAndConvertsDType() throws {
        let lin = try Linear(3, 2)
        let weight = lin.weight
        let report = try lin.load(["weight": try Tensor.ones([2, 3], dtype: .float16), "junk": try Tensor.zeros([1])], strict: false)
        #expect(report.loaded == 1 && report.unexpected == ["junk"] && report.missing == ["bias"])
        #expect(lin.weight.isSame(as: weight))
        #expect(lin.weight.dtype == .float32)
        #expect(try lin.weight.floats() == [1, 1, 1, 1, 1, 1])
        #expect(lin.weight.requiresGrad)
    }

    @Test func stateDictRoundTripBetweenInstances() throws {
        let a = try SelfAttentionBlock(dim: 8, heads: 2), b = try SelfAttentionBlock(dim: 8, heads: 2)
        let report = try b.load(a.stateDictionary())
        #expect(report.isClean && report.loaded == a.stateDict().count)
        let x = try Tensor.randn([2, 5, 8])
        #expect(try maxAbsError(a(x), b(x)) == 0)
    }
}

@Suite struct EMATests {
    @Test func emaStartsAsCopyAndFollowsTheFormula() throws {
        let lin = try Linear(2, 2, bias: false)
        let ema = try EMA(lin, decay: 0.9)
        let w0 = try lin.weight.doubles()
        #expect(try ema.shadow[0].tensor.doubles() == w0)
        try withoutGrad { try lin.weight.add_(1) }
        try ema.update(lin)
        let expected = w0.map { 0.9 * $0 + 0.1 * ($0 + 1) }
        #expect(zip(try ema.shadow[0].tensor.doubles(), expected).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(ema.updates == 1)
        let copy = try Linear(2, 2, bias: false)
        try ema.copy(into: copy)
        #expect(try copy.weight.doubles() == ema.shadow[0].tensor.doubles())
    }
}

/// `Module.load` takes any float dtype into a float tensor, but never integer data (a relabelled tensor or one
/// meant for another slot): strict loads refuse it by key, non-strict loads skip it.
@Suite struct LoadDTypeTests {
    @Test func integerDataIsNotLoadedIntoFloatWeights() throws {
        let layer = try Linear(4, 3)
        let before = try layer.weight.floats()
        var weights = layer.stateDict().reduce(into: [String: Tensor]()) { $0[$1.0] = $1.1 }
        weights["weight"] = try Tensor([Int32](repeating: 7, count: 12), shape: [3, 4])
        let error = try #require(throws: StateDictError.self) { try layer.load(weights, source: "file.safetensors") }
        #expect(error.report.wrongDType.map(\.key) == ["weight"] && error.description.contains("wrong dtype"), "\(error)")
        let report = try layer.load(weights, strict: false)
        #expect(report.wrongDType.count == 1 && report.loaded == weights.count - 1)
        #expect(try layer.weight.floats() == before, "the integer tensor must not have been copied in")
        weights["weight"] = try layer.weight.to(.float16)
        #expect(try layer.load(weights).isClean, "float16 into float32 stays allowed")
    }
}
