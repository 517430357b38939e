import ArgumentParser

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Not available yet.")

    func run() throws {
        throw ValidationError("`edgesplit check` is not available yet")
    }
}
