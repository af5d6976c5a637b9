import Foundation

/// An empty directory per test: `<tmp>/miro-<suite>-<pid>/<test name>`, emptied first so a rerun starts clean.
func scratchDirectory(suite: String, test name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("miro-\(suite)-\(ProcessInfo.processInfo.processIdentifier)")
        .appendingPathComponent(name.filter { $0.isLetter || $0.isNumber })
    try? FileManager.default.removeItem(at: url)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
