import MiroEngine

/// What `Module.load(_:strict:)` found when matching a flat `[key: tensor]` map to the tree.
public struct LoadReport: Sendable, CustomStringConvertible {
    public struct Mismatch: Sendable {
        public let key: String
        public let expected: [Int]
        public let found: [Int]
    }

    /// Keys the module declares that the map lacks.
    public var missing: [String] = []
    /// Keys in the map that the module does not declare.
    public var unexpected: [String] = []
    /// Keys present on both sides with different shapes.
    public var mismatched: [Mismatch] = []
    /// Keys whose values come in a dtype the module's tensor cannot take (`LoadReport.loadable`).
    public var wrongDType: [(key: String, expected: DType, found: DType)] = []
    /// Keys whose values were copied in.
    public var loaded: Int = 0

    public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty && wrongDType.isEmpty }

    /// Whether a value of dtype `incoming` may be loaded into a tensor of dtype `current`: any float dtype into a
    /// float tensor (fp16/bf16 files into fp32 models), otherwise exactly the same dtype — integer data relabelled
    /// or meant for another tensor must not be converted into weights.
    public static func loadable(_ incoming: DType, into current: DType) -> Bool {
        current.isFloatingPoint ? incoming.isFloatingPoint : incoming == current
    }

    /// A readable multi-line report, listing at most `limit` keys per category.
    public func render(limit: Int = 20) -> String {
        var lines = ["loaded \(loaded) tensors; \(missing.count) missing, \(unexpected.count) unexpected, \(mismatched.count) mis-shaped"
                     + (wrongDType.isEmpty ? "" : ", \(wrongDType.count) of a wrong dtype")]
        func list(_ title: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            lines.append("  \(title):")
            lines += items.prefix(limit).map { "    \($0)" }
            if items.count > limit { lines.append("    … and \(items.count - limit) more") }
        }
        list("missing", missing)
        list("unexpected", unexpected)
        list("mis-shaped", mismatched.map { "\($0.key): model \($0.expected), file \($0.found)" })
        list("wrong dtype", wrongDType.map { "\($0.key): model \($0.expected), file \($0.found)" })
        return lines.joined(separator: "\n")
    }

    public var description: String { render() }
}

/// A strict load that did not match.
public struct StateDictError: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let report: LoadReport
    public init(source: String, report: LoadReport) {
        self.source = source
        self.report = report
    }
    public var description: String { "\(source): state dict does not match the model\n\(report.render())" }
}

extension Module {
    /// Copies values from `weights` into the module's parameters and buffers, converting dtype
    /// (e.g. fp16/bf16 files into fp32 models). Tensors keep their identity.
    ///
    /// - strict: any missing, unexpected or mis-shaped key throws `StateDictError` *before*
    ///   anything is copied, so a failed load leaves the module untouched.
    /// - non-strict: copies what matches and returns the report (like `strict=False`).
    @discardableResult
    public func load(_ weights: [String: Tensor], strict: Bool = true, source: String = "state dict") throws -> LoadReport {
        let slots = namedTensorSlots()
        var report = LoadReport()
        var plan: [(TensorSlot, Tensor)] = []
        var declared = Set<String>()
        for (key, slot) in slots {
            declared.insert(key)
            guard let current = slot.tensor else { continue }
            guard let incoming = weights[key] else { report.missing.append(key); continue }
            guard incoming.shape == current.shape else {
                report.mismatched.append(.init(key: key, expected: current.shape, found: incoming.shape))
                continue
            }
            guard LoadReport.loadable(incoming.dtype, into: current.dtype) else {
                report.wrongDType.append((key, current.dtype, incoming.dtype))
                continue
            }
            plan.append((slot, incoming))
        }
        report.unexpected = weights.keys.filter { !declared.contains($0) }.sorted()
        if strict && !report.isClean { throw StateDictError(source: source, report: report) }
        try withoutGrad {
            for (slot, incoming) in plan {
                guard let current = slot.tensor else { continue }
                try current.copy_(incoming.to(current.dtype, device: current.device))
            }
        }
        report.loaded = plan.count
        return report
    }

    /// The state dict as a dictionary (detached tensors sharing storage with the module).
    public func stateDictionary() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, t) in stateDict() { out[k] = try t.detached() }
        return out
    }
}
