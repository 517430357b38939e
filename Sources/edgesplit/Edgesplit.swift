import ArgumentParser

/// The `edgesplit` command: the one binary an operator deploys on an edge host.
@main
struct Edgesplit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edgesplit",
        abstract: "Kernel-assisted L4/L7 reverse proxy for publishing Lync and Skype for Business web services.",
        subcommands: [
            ServeCommand.self,
            CheckCommand.self,
            InitCommand.self,
            TestRuleCommand.self,
            DemoCommand.self,
            MapsCommand.self,
            BPFCommand.self,
            FarmCommand.self,
            StatsCommand.self,
            ReloadCommand.self,
        ]
    )
}
