import CTorch
import Foundation

/// Where a stretch of engine work spends its time, operator by operator (libtorch's profiler: CPU operators of the
/// calling thread and the backward passes it runs, not those of other threads). Self time is an operator's time less
/// the operators it called: `aten::linear` holds `aten::addmm`, whose self time is the matrix product. The profiler
/// adds about a microsecond per operator. Needs libtorch 2.
///
///     try OpProfiler.start()
///     … steps …
///     let rows = try OpProfiler.stop(tracePath: "trace.json")   // the trace opens in Perfetto or chrome://tracing
public enum OpProfiler {
    /// One operator's calls during the profile (one per input-size combination when sizes were recorded).
    public struct Row: Sendable, Equatable {
        public var name: String
        public var count: Int
        /// Seconds in the operator itself, without the operators it called.
        public var selfSeconds: Double
        /// Seconds from its start to its end, nested operators included.
        public var totalSeconds: Double
    }

    /// Starts profiling this thread's engine work; `recordShapes` splits each operator's row by its inputs' sizes.
    public static func start(recordShapes: Bool = false) throws {
        try check(mt_profiler_start(recordShapes), "profiler start")
    }

    /// Stops the profile; writes a Chrome trace to `tracePath` when given. Rows by self time, largest first.
    public static func stop(tracePath: String? = nil) throws -> [Row] {
        var table: UnsafeMutablePointer<CChar>? = nil
        try check(mt_profiler_stop(tracePath, &table), "profiler stop")
        guard let table else { return [] }
        defer { mt_free_string(table) }
        return parse(String(cString: table)).sorted { ($0.selfSeconds, $1.name) > ($1.selfSeconds, $0.name) }
    }

    /// Reads the shim's table: "name\tcount\tself_ns\ttotal_ns" per line.
    static func parse(_ table: String) -> [Row] {
        table.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 4, let count = Int(f[1]), let selfNs = UInt64(f[2]), let totalNs = UInt64(f[3]) else { return nil }
            return Row(name: String(f[0]), count: count, selfSeconds: Double(selfNs) / 1e9, totalSeconds: Double(totalNs) / 1e9)
        }
    }

    /// The rows as a text table per step of `steps`: the `limit` largest by self time, then the rest summed.
    public static func table(_ rows: [Row], steps: Int, limit: Int = 25) -> String {
        let perStep = Double(max(steps, 1))
        let totalSelf = rows.reduce(0) { $0 + $1.selfSeconds }
        let width = min(100, max(24, rows.prefix(limit).map(\.name.count).max() ?? 0))
        func cell(_ s: String, _ w: Int, left: Bool = false) -> String {
            let pad = String(repeating: " ", count: max(0, w - s.count))
            return left ? s + pad : pad + s
        }
        func line(_ name: String, _ calls: String, _ selfMs: String, _ share: String, _ totalMs: String) -> String {
            [cell(String(name.prefix(width)), width, left: true), cell(calls, 10), cell(selfMs, 13), cell(share, 7),
             cell(totalMs, 14)].joined(separator: " ")
        }
        func ms(_ seconds: Double) -> String { String(format: "%.2f", seconds * 1000 / perStep) }
        func share(_ seconds: Double) -> String { String(format: "%.1f%%", totalSelf > 0 ? 100 * seconds / totalSelf : 0) }
        var lines = [line("operator", "calls/step", "self ms/step", "self", "total ms/step")]
        for r in rows.prefix(limit) {
            lines.append(line(r.name, String(format: "%.1f", Double(r.count) / perStep), ms(r.selfSeconds), share(r.selfSeconds),
                              ms(r.totalSeconds)))
        }
        let rest = rows.dropFirst(limit)
        if !rest.isEmpty {
            let restSelf = rest.reduce(0) { $0 + $1.selfSeconds }
            lines.append(line("(\(rest.count) more)", String(format: "%.1f", Double(rest.reduce(0) { $0 + $1.count }) / perStep),
                              ms(restSelf), share(restSelf), ""))
        }
        lines.append("all operators: \(ms(totalSelf)) ms of self time per step")
        return lines.joined(separator: "\n")
    }
}
