import Foundation

/// One of the repository's `Scripts/`, run to completion with `EDGESPLIT` set to the binary
/// under test: its exit status and everything it printed (stdout and stderr together).
enum RepositoryScript {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func run(_ name: String, _ arguments: [String] = []) throws -> (status: Int32, output: String) {
        let script = Process()
        script.executableURL = root.appendingPathComponent("Scripts/\(name)")
        script.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["EDGESPLIT"] = EdgesplitBinary.path
        script.environment = environment
        let output = Pipe()
        script.standardOutput = output
        script.standardError = output
        try script.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        script.waitUntilExit()
        return (script.terminationStatus, text)
    }
}
