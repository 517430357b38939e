import ArgumentParser

struct MapsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "maps", abstract: "Not available yet.")

    func run() throws {
        throw ValidationError("`edgesplit maps` is not available yet")
    }
}
