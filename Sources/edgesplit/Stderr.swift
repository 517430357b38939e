#if canImport(Glibc)
import Forwarding
import Glibc
#endif
import ArgumentParser
import Proxy

/// What a command itself prints on stderr: `check`'s findings, a refused configuration's
/// `file:line:column: severity: message` lines, and a failed command's one
/// `edgesplit: error: …` line. What `serve` and `demo` say while they run goes through the
/// logger instead (``LoggingOptions``).
enum Stderr {
    /// One line on stderr, written whole.
    static func line(_ text: String) {
        FileBytes.write(Array((text + "\n").utf8), to: STDERR_FILENO)
    }

    /// Prints `edgesplit: error: message` and returns the exit status the command throws.
    static func failure(_ message: String) -> ExitCode {
        line("edgesplit: error: " + message)
        return .failure
    }
}
