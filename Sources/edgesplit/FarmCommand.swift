#if canImport(Glibc)
import AdminServer
import Glibc
#endif
import Admin
import ArgumentParser
import Foundation
import Proxy

/// `edgesplit farm`: farm members of a running instance, through its control socket.
struct FarmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "farm",
        abstract: "Show, drain and undrain farm members of a running instance.",
        subcommands: [Status.self, Drain.self, Undrain.self],
        defaultSubcommand: Status.self
    )

    struct Target: ParsableArguments {
        @Option(help: "The running edgesplit instance.")
        var instance = "edgesplit"

        @Option(help: .hidden)
        var controlDirectory = ServerEnvironment.defaultControlDirectory

        @Flag(help: "Print JSON.")
        var json = false
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Every farm member: up/down/drained, last health check result and time."
        )
        @OptionGroup var target: Target

        func run() throws {
            let reply = try ControlClient.reporting { try ControlClient.call(.farmStatus, target: target) }
            if target.json {
                ControlClient.printJSON(reply)
                return
            }
            guard case .farms(let farms) = reply else { return }
            print(pad("farm", 14) + pad("member", 28) + pad("state", 10) + "last check")
            for farm in farms {
                for member in farm.members {
                    print(pad(farm.name, 14) + pad(member.member, 28) + pad(member.state, 10) + "\(member.lastCheck) \(member.lastCheckAt)")
                }
            }
        }

        private func pad(_ s: String, _ n: Int) -> String {
            s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count)
        }
    }

    struct Drain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "drain",
            abstract: "Send no new clients to a member; connections in progress finish."
        )
        @Argument(help: "The farm name.") var farm: String
        @Argument(help: "The member as written in the configuration (host:port), or its index.") var member: String
        @OptionGroup var target: Target

        func run() throws {
            let reply = try ControlClient.reporting { try ControlClient.call(.farmDrain(farm: farm, member: member), target: target) }
            target.json ? ControlClient.printJSON(reply) : print("\(farm) \(member): drained")
        }
    }

    struct Undrain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "undrain",
            abstract: "Let a drained member take new clients again."
        )
        @Argument(help: "The farm name.") var farm: String
        @Argument(help: "The member as written in the configuration (host:port), or its index.") var member: String
        @OptionGroup var target: Target

        func run() throws {
            let reply = try ControlClient.reporting { try ControlClient.call(.farmUndrain(farm: farm, member: member), target: target) }
            target.json ? ControlClient.printJSON(reply) : print("\(farm) \(member): undrained")
        }
    }
}

/// One request/response on an instance's control socket.
enum ControlClient {
    /// The instance's reply to `request`; a refusal is thrown as its error message.
    static func call(_ request: ControlRequest, target: FarmCommand.Target) throws -> ControlReply {
        let path = "\(target.controlDirectory)/\(target.instance).sock"
        let response: ControlReply
        do {
            response = try ControlConnection(path: path).call(request)
        } catch let failure as ControlConnection.Failure {
            throw ControlClientError(
                message: failure.notRunning
                    ? "instance '\(target.instance)' is not running (no control socket at \(path))" : failure.description
            )
        }
        if case .refused(let error) = response { throw ControlClientError(message: error) }
        return response
    }

    /// Turns a control-socket failure into one `edgesplit: error: …` line and exit 1.
    static func reporting<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ControlClientError {
            throw Stderr.failure("\(error)")
        }
    }

    /// Indented, keys sorted: what `farm … --json` and `stats --merge --json` print.
    static func printJSON(_ value: some Encodable) {
        print(JSONOutput.text(value, pretty: true))
    }
}

struct ControlClientError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
