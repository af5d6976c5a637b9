import Foundation

/// Stop requests for long commands: the first SIGINT (Ctrl-C), SIGTERM (`timeout`, a scheduler's preemption)
/// or SIGHUP (a closed terminal) asks the running loop to stop at the next step boundary, so training saves a
/// checkpoint and exits with the conventional status (128 + the signal: 130, 143, 129); a second one exits at
/// once. Child processes registered with `forward(to:)` get each signal too: Foundation starts children in
/// their own process groups, out of reach of the terminal's Ctrl-C.
enum Interrupt {
    nonisolated(unsafe) private static var count: Int32 = 0
    nonisolated(unsafe) private static var first: Int32 = 0
    /// Read by the signal handler, so a fixed buffer rather than an array that may reallocate.
    nonisolated(unsafe) private static var children = [pid_t](repeating: 0, count: 16)
    nonisolated(unsafe) private static var childCount = 0

    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    static var requested: Bool { count > 0 }

    /// The exit status of a command stopped by `signal`: 128 + its number.
    static var exitStatus: Int32 { 128 + first }

    /// "Ctrl-C", "SIGTERM", "SIGHUP".
    static var signalName: String {
        switch first {
        case SIGINT: "Ctrl-C"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        default: "signal \(first)"
        }
    }

    static func install() {
        // A child inherits its parent's blocked-signal mask: a parent that blocks them (a test runner's thread,
        // some job launchers) would leave these stop requests pending forever, so unblock them here.
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for s in signals {
            signal(s) { received in
                if Interrupt.count == 0 { Interrupt.first = received }
                Interrupt.count += 1
                for i in 0..<Interrupt.childCount { kill(Interrupt.children[i], received) }
                if Interrupt.count > 1 { _exit(128 + received) }
                let message = "\ninterrupted: finishing the current step and saving (again to quit now)\n"
                _ = message.withCString { write(2, $0, strlen($0)) }
            }
        }
    }

    /// Passes later signals on to `pid` (up to 16 children).
    static func forward(to pid: pid_t) {
        guard childCount < children.count else { return }
        children[childCount] = pid
        childCount += 1
    }
}
