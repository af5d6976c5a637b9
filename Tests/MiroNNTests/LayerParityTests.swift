import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroNN

/// Forward parity of the layers with the official miro-t2i 0.1.4 modules (transformers.py) on
/// small float64 configurations with random weights; fixtures from scripts/make_nn_fixtures.py.
/// `output_f64norm.*` are the official outputs with RMSNorm kept in float64 (the official module
/// casts to float32, which would blur a float64 comparison).
@Suite(.serialized)
struct LayerParityTests {
    /// Loads `param.*` strictly into `module` (converted to float64) and returns the fixture.
    func prepare(_ module: Module, _ file: String) throws -> [String: Tensor] {
        let (t, _) = try Fixtures.safetensors("nn/\(file)")
        try module.to(.float64)
        var params: [String: Tensor] = [:]
        for (k, v) in t where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        try module.load(params, source: file)
        return t
    }

    func expectClose(_ got: Tensor, _ want: Tensor?, _ what: String, tolerance: Double = 1e-9) throws {
        let want = try #require(want, "fixture lacks \(what)")
        #expect(got.shape == want.shape, "\(what): shape")
        let err = try maxAbsError(got, want)
        #expect(err <= tolerance, "\(what): max abs error \(err)")
    }

    @Test func rmsNorm() throws {
        let norm = try RMSNorm(8)
        let t = try prepare(norm, "rmsnorm.safetensors")
        try expectClose(norm(#require(t["input.x"])), t["output_f64norm.y"], "rmsnorm")
    }

    @Test func swiGLU() throws {
        let ffn = try SwiGLU(16)
        let t = try prepare(ffn, "swiglu.safetensors")
        try expectClose(ffn(#require(t["input.x"])), t["output.y"], "swiglu")
    }

    @Test func geluMLP() throws {
        let ffn = try GELUMLP(16)
        let t = try prepare(ffn, "fused_mlp.safetensors")
        try expectClose(ffn(#require(t["input.x"])), t["output.y"], "fused_mlp")
    }

    @Test func rinSelfAttentionBlock() throws {
        let block = try SelfAttentionBlock(dim: 32, heads: 4)
        let t = try prepare(block, "self_attention_block_rin.safetensors")
        let x = try #require(t["input.tokens"])
        try expectClose(block(x), t["output_f64norm.unmasked"], "unmasked")
        try expectClose(block(x, mask: #require(t["input.token_mask"])), t["output_f64norm.masked"], "masked")
    }

    @Test func textSelfAttentionBlock() throws {
        var o = SelfAttentionBlock.Options()
        o.norm = .layer; o.swiGLU = false; o.qkvBias = true; o.qkNorm = false; o.layerScale = 0.1
        let block = try SelfAttentionBlock(dim: 32, heads: 4, options: o)
        let t = try prepare(block, "self_attention_block_text.safetensors")
        let x = try #require(t["input.tokens"])
        try expectClose(block(x), t["output.unmasked"], "unmasked")
        try expectClose(block(x, mask: #require(t["input.token_mask"])), t["output.masked"], "masked")
    }

    @Test(arguments: [("cross_attention_block.safetensors", 32, 48), ("cross_attention_block_wide_q.safetensors", 48, 32)])
    func crossAttentionBlock(file: String, queryDim: Int, contextDim: Int) throws {
        let block = try CrossAttentionBlock(queryDim: queryDim, contextDim: contextDim, heads: 4)
        let t = try prepare(block, file)
        let q = try #require(t["input.to_tokens"]), kv = try #require(t["input.from_tokens"])
        let km = try #require(t["input.from_token_mask"]), qm = try #require(t["input.to_token_mask"])
        try expectClose(block(q, context: kv), t["output_f64norm.unmasked"], "unmasked")
        try expectClose(block(q, context: kv, contextMask: km), t["output_f64norm.masked"], "masked")
        try expectClose(block(q, context: kv, queryMask: qm, contextMask: km), t["output_f64norm.both_masks"], "both masks")
    }

    @Test func rawCrossAttentionOp() throws {
        let op = try AttentionOp(attentionDim: 16, heads: 2, queryDim: 24, contextDim: 20, selfAttention: false)
        let t = try prepare(op, "attention_op_cross.safetensors")
        let x = try #require(t["input.x_to"]), c = try #require(t["input.x_from"])
        try expectClose(op(x, context: c), t["output.unmasked"], "unmasked")
        try expectClose(op(x, context: c, mask: #require(t["input.attention_mask"])), t["output.masked"], "masked")
    }
}
