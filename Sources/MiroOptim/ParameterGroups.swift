import MiroEngine
import MiroNN

extension ParameterGroup {
    /// MIRO's two groups (`exclude_ln_and_biases_from_weight_decay: true` in
    /// miro/models/diffusion.py): parameters inside LayerNorm / RMSNorm / Embedding modules and every
    /// parameter whose key contains "bias" get no weight decay and no layer adaptation; all others
    /// (plus the preconditioner's, passed as `extra`) get `weightDecay` with layer adaptation.
    public static func miro(_ model: Module, extra: [(name: String, tensor: Tensor)] = [], learningRate: Double,
                            weightDecay: Double) -> [ParameterGroup] {
        var noDecayKeys = Set<String>()
        for (prefix, module) in model.namedModules() where module is RMSNorm || module is LayerNorm || module is Embedding {
            for (key, _) in module.namedParameters() { noDecayKeys.insert(prefix.isEmpty ? key : "\(prefix).\(key)") }
        }
        var decay: [(name: String, tensor: Tensor)] = []
        var noDecay: [(name: String, tensor: Tensor)] = []
        for (name, p) in model.trainableParameters() {
            if noDecayKeys.contains(name) || name.contains("bias") { noDecay.append((name, p)) } else { decay.append((name, p)) }
        }
        return [
            ParameterGroup(name: "decay", parameters: decay + extra, learningRate: learningRate,
                           weightDecay: weightDecay, layerAdaptation: true),
            ParameterGroup(name: "no_decay", parameters: noDecay, learningRate: learningRate,
                           weightDecay: 0, layerAdaptation: false),
        ]
    }
}
