import ArgumentParser

struct BPFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bpf", abstract: "Not available yet.")

    func run() throws {
        throw ValidationError("`edgesplit bpf` is not available yet")
    }
}
