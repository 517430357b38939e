import ArgumentParser

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Not available yet.")

    func run() throws {
        throw ValidationError("`edgesplit demo` is not available yet")
    }
}
