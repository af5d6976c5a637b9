import Foundation
import Testing

/// The module table (scripts/check-module-graph.sh, shown in the README) holds: every target imports only
/// the modules its row allows, in its sources and in Package.swift. Run here so that CI checks it with the
/// README's test command.
@Suite struct ModuleGraphTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func check(_ root: URL) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [root.appendingPathComponent("scripts/check-module-graph.sh").path]
        process.currentDirectoryURL = root
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test func importsStayWithinTheirRows() throws {
        let (status, output) = try check(Self.root)
        #expect(status == 0, "\(output)")
    }

    /// The script must catch a violation: a copy of the tree where MiroPipeline imports MiroTraining fails.
    @Test func aForbiddenImportFails() throws {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("miro-graph-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        for item in ["Package.swift", "scripts", "Sources"] {
            try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Self.root.appendingPathComponent(item), to: copy.appendingPathComponent(item))
        }
        let file = copy.appendingPathComponent("Sources/MiroPipeline/Leak.swift")
        try Data("import MiroTraining\n".utf8).write(to: file)
        let (status, output) = try check(copy)
        #expect(status != 0 && output.contains("MiroPipeline imports MiroTraining"), "\(output)")
    }
}
