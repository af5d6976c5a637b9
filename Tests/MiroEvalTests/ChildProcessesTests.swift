import Foundation
import Testing
import MiroTestSupport
import MiroEval
import MiroTraining

@Suite struct ChildProcessesTests {
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        func add(_ line: String) { lock.withLock { stored.append(line) } }
        var all: [String] { lock.withLock { stored } }
    }

    static let shell = URL(fileURLWithPath: "/bin/sh")

    /// Both jobs run at the same time (each waits for a file the other writes, so a runner that ran them one
    /// after the other would hang until the timeouts and fail), lines arrive whole and prefixed, a last line
    /// without a newline is kept, the environment reaches the child, and each log holds its job's raw output.
    @Test func runsJobsConcurrentlyAndForwardsPrefixedLines() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.ready").path, b = dir.appendingPathComponent("b.ready").path
        // Wait up to 10 s for the other job's file.
        func waitFor(_ path: String) -> String { "i=0; while [ ! -e \(path) ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; [ -e \(path) ]" }
        let jobs = [
            ChildProcesses.Job(name: "one", arguments: ["-c", "touch \(a); \(waitFor(b)) && echo first && echo \"v=$MIRO_TEST_VAR\" >&2 && printf tail"],
                               log: dir.appendingPathComponent("one/out.log"), environment: ["MIRO_TEST_VAR": "42"]),
            ChildProcesses.Job(name: "two", arguments: ["-c", "touch \(b); \(waitFor(a)) && echo second"],
                               log: dir.appendingPathComponent("two/out.log")),
        ]
        let lines = Lines()
        try ChildProcesses.run(executable: Self.shell, jobs: jobs, forward: lines.add)
        #expect(Set(lines.all) == ["one | first", "one | v=42", "one | tail", "two | second"])
        #expect(try String(contentsOf: jobs[0].log, encoding: .utf8) == "first\nv=42\ntail")
        #expect(try String(contentsOf: jobs[1].log, encoding: .utf8) == "second\n")
    }

    /// A failing job is reported by name, with its status and its log, after every job has finished.
    @Test func failuresNameTheJobStatusAndLog() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let jobs = [
            ChildProcesses.Job(name: "good", arguments: ["-c", "sleep 0.2; echo done"], log: dir.appendingPathComponent("good.log")),
            ChildProcesses.Job(name: "bad", arguments: ["-c", "echo oops; exit 3"], log: dir.appendingPathComponent("bad.log")),
            ChildProcesses.Job(name: "killed", arguments: ["-c", "kill -9 $$"], log: dir.appendingPathComponent("killed.log")),
        ]
        let lines = Lines()
        do {
            try ChildProcesses.run(executable: Self.shell, jobs: jobs, forward: lines.add)
            Issue.record("expected a failure")
        } catch let failure as ChildProcesses.Failure {
            #expect(failure.statuses == ["bad": 3, "killed": -9])
            #expect(failure.description.contains("bad exited with status 3; its output is in \(jobs[1].log.path)"))
            #expect(failure.description.contains("killed was killed by signal 9"))
        }
        #expect(lines.all.contains("good | done"))   // the good job was waited for, not abandoned
    }

    @Test func aMissingExecutableIsAnError() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let job = ChildProcesses.Job(name: "x", arguments: [], log: dir.appendingPathComponent("x.log"))
        #expect(throws: (any Error).self) {
            try ChildProcesses.run(executable: dir.appendingPathComponent("no-such-program"), jobs: [job]) { _ in }
        }
    }
}
