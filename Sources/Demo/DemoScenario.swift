/// One thing to try against the running demo: what it shows, what to expect, and the command.
public struct DemoScenario: Sendable, Equatable {
    /// Short title, e.g. `Meeting join page (simple URL)`.
    public let title: String
    /// What the answer should look like, e.g. `200, X-Demo-Member: director`.
    public let expectation: String
    /// A ready-to-paste curl command.
    public let command: String

    public init(title: String, expectation: String, command: String) {
        self.title = title
        self.expectation = expectation
        self.command = command
    }
}
