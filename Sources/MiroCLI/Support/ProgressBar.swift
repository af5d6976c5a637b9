import Foundation

/// A single rewritten terminal line: `label  12/50 [=====>     ] 3.41 it/s ETA 11s`.
/// Quiet when stderr is not a terminal (CI logs), apart from the final line.
final class ProgressBar {
    let label: String
    let total: Int
    /// What one item is, for the rate: "it/s", "images/s".
    let unit: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let interactive = isatty(FileHandle.standardError.fileDescriptor) != 0

    init(_ label: String, total: Int, unit: String = "it") {
        self.label = label
        self.unit = unit
        self.total = max(total, 1)
    }

    /// Marks `done` items complete; redraws at most ten times a second.
    func update(_ done: Int, suffix: String = "") {
        guard interactive else { return }
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        FileHandle.standardError.write(Data(("\r" + line(done, suffix: suffix) + "\u{1B}[K").utf8))
    }

    /// Prints the final line and a newline.
    func finish(suffix: String = "") {
        let text = line(total, suffix: suffix)
        FileHandle.standardError.write(Data(((interactive ? "\r" : "") + text + "\u{1B}[K\n").utf8))
    }

    private func line(_ done: Int, suffix: String) -> String {
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let width = 24
        let filled = min(width, width * done / total)
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
        let eta = rate > 0 ? Double(total - done) / rate : 0
        return String(format: "%@ %d/%d [%@] %.2f %@/s ETA %@ %@", label, done, total, bar, rate, unit, formatDuration(eta), suffix)
    }
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0, seconds < 1e12 else { return "?" }
    let s = Int(seconds.rounded())
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
    return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m"
}
