import ArgumentParser

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Not available yet.")

    func run() throws {
        throw ValidationError("`edgesplit serve` is not available yet")
    }
}
