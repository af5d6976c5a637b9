import MiroEngine

extension Module {
    /// Loads a full set of trainable-parameter weights (EMA weights from a checkpoint, the averaged
    /// weights of a live EMA) into this module. Every trainable parameter must be covered, and nothing
    /// is copied when one is not; buffers keep their values.
    public func loadTrainableWeights(_ weights: [String: Tensor], source: String) throws {
        let missing = Set(trainableParameters().map(\.0)).subtracting(weights.keys)
        guard missing.isEmpty else {
            var report = LoadReport()
            report.missing = missing.sorted()
            throw StateDictError(source: source, report: report)
        }
        let report = try load(weights, strict: false, source: source)
        guard report.mismatched.isEmpty, report.unexpected.isEmpty, report.wrongDType.isEmpty else { throw StateDictError(source: source, report: report) }
    }
}
