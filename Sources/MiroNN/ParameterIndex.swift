import MiroEngine
import Synchronization

/// Revision of the shape of every module tree: bumped whenever a `@Child` is assigned, so cached
/// key → slot tables know when to walk again. (A process-wide counter: a child does not know its
/// parents, and assignments after construction are rare, so a spurious re-walk costs little.)
enum ModuleTree {
    private static let revision = Atomic<Int>(0)

    static var current: Int { revision.load(ordering: .acquiring) }

    static func structureChanged() { revision.add(1, ordering: .releasing) }
}

/// Parameter tensors that a module slot let go of (`Module.to`, or assigning another tensor), so
/// that something still holding the old object, such as an optimizer built before the move, can
/// tell it apart from a live parameter instead of silently updating a tensor nobody reads.
///
/// Entries are weak: an old tensor nobody holds any more drops out, and a new tensor that reuses
/// its address is never mistaken for it.
enum ReplacedParameters {
    private final class Entry: @unchecked Sendable {
        weak var tensor: Tensor?
        init(_ tensor: Tensor) { self.tensor = tensor }
    }

    private struct Table: ~Copyable {
        var entries: [ObjectIdentifier: Entry] = [:]
        var pruneAt = 256
    }

    private static let table = Mutex(Table())

    /// Records a slot's tensor change; `new` is live again even if it was replaced before.
    static func record(replaced old: Tensor?, by new: Tensor?) {
        guard old !== new else { return }
        table.withLock { t in
            if let new { t.entries[ObjectIdentifier(new)] = nil }
            guard let old else { return }
            t.entries[ObjectIdentifier(old)] = Entry(old)
            if t.entries.count >= t.pruneAt {
                t.entries = t.entries.filter { $0.value.tensor != nil }
                t.pruneAt = max(256, 2 * t.entries.count)
            }
        }
    }

    /// The index of the first of `tensors` that a module slot let go of, if any.
    static func firstReplaced(in tensors: [Tensor]) -> Int? {
        table.withLock { t in
            guard !t.entries.isEmpty else { return nil }
            return tensors.firstIndex { t.entries[ObjectIdentifier($0)]?.tensor === $0 }
        }
    }
}

extension Module {
    /// True when `tensor` was a parameter of some module and that module has since replaced it
    /// (`Module.to` changed its dtype or device, or another tensor was assigned). Holders of the old
    /// object must re-read the parameter by name (`ParameterIndex`).
    public static func wasReplaced(_ tensor: Tensor) -> Bool {
        ReplacedParameters.firstReplaced(in: [tensor]) != nil
    }

    /// The position of the first tensor of `tensors` for which `wasReplaced` holds (one lock for
    /// all: optimizers check every parameter on every step).
    public static func firstReplaced(in tensors: [Tensor]) -> Int? {
        ReplacedParameters.firstReplaced(in: tensors)
    }

    /// Every parameter slot with its full key, assigned or not (an `OptionalParam` may be filled
    /// later and is still the same slot).
    func namedParameterSlots() -> [(String, any TensorSlot)] {
        var out: [(String, any TensorSlot)] = []
        for (prefix, module) in namedModules() {
            for (key, slot) in module.ownSlots() {
                guard let ts = slot as? any TensorSlot, ts.isParameter else { continue }
                out.append((prefix.isEmpty ? key : "\(prefix).\(key)", ts))
            }
        }
        return out
    }
}

/// A module's parameters by dotted key, read through their slots: `tensor(_:)` returns the tensor
/// the module holds *now*, so a `Module.to` that swapped it is followed by name.
///
/// The tree is walked by reflection once, and again only after a child module was assigned
/// somewhere (per-step users such as optimizers and EMA thus do no reflection while training).
/// The module is held weakly: an index does not keep a model alive.
public final class ParameterIndex {
    public private(set) weak var module: Module?
    private var slots: [String: any TensorSlot] = [:]
    private var orderedKeys: [String] = []
    private var revision = -1

    public init(_ module: Module) {
        self.module = module
        refreshIfNeeded()
    }

    private func refreshIfNeeded() {
        let now = ModuleTree.current
        guard now != revision, let module else { return }
        let named = module.namedParameterSlots()
        orderedKeys = named.map(\.0)
        slots = Dictionary(named, uniquingKeysWith: { first, _ in first })
        revision = now
    }

    /// The module's current tensor for `key`, nil when it declares no such parameter (or an
    /// unassigned optional one).
    public func tensor(_ key: String) -> Tensor? {
        refreshIfNeeded()
        return slots[key]?.tensor
    }

    /// Parameter keys in declaration order (as `namedParameters()`, including unassigned optional ones).
    public var keys: [String] {
        refreshIfNeeded()
        return orderedKeys
    }

    /// Whether the module declares a parameter `key` (assigned or not).
    public func contains(_ key: String) -> Bool {
        refreshIfNeeded()
        return slots[key] != nil
    }
}
