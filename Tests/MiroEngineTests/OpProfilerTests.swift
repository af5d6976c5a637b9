import MiroEngine
import Testing

@Suite(.serialized) struct OpProfilerTests {
    @Test func profilesTheOperatorsOfThisThread() throws {
        let a = try Tensor.randn([64, 32]), b = try Tensor.randn([32, 16])
        try OpProfiler.start()
        for _ in 0..<3 { _ = try a.matmul(b).relu() }
        let rows = try OpProfiler.stop()
        let mm = try #require(rows.first { $0.name == "aten::mm" })
        #expect(mm.count == 3)
        #expect(mm.selfSeconds > 0 && mm.selfSeconds <= mm.totalSeconds + 1e-9)
        let matmul = try #require(rows.first { $0.name == "aten::matmul" })
        #expect(matmul.totalSeconds >= mm.totalSeconds, "matmul holds mm")
        #expect(zip(rows, rows.dropFirst()).allSatisfy { $0.selfSeconds >= $1.selfSeconds })
        #expect(throws: (any Error).self) { try OpProfiler.stop() }

        try OpProfiler.start(recordShapes: true)
        _ = try a.matmul(b)
        let shaped = try OpProfiler.stop()
        #expect(shaped.contains { $0.name == "aten::mm [64,32] [32,16]" })
        let table = OpProfiler.table(shaped, steps: 1, limit: 2)
        #expect(table.contains("more)") && table.contains("ms of self time per step"))
    }

    @Test func startingTwiceIsAnError() throws {
        try OpProfiler.start()
        #expect(throws: (any Error).self) { try OpProfiler.start() }
        _ = try OpProfiler.stop()
    }
}
