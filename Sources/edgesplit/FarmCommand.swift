#if canImport(Glibc)
import Glibc
#endif
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
            let response = try ControlClient.reporting { try ControlClient.call(["command": "farm-status"], target: target) }
            if target.json {
                ControlClient.printJSON(response)
                return
            }
            let farms = response["farms"] as? [[String: Any]] ?? []
            print(pad("farm", 14) + pad("member", 28) + pad("state", 10) + "last check")
            for farm in farms {
                let name = farm["name"] as? String ?? "?"
                for member in farm["members"] as? [[String: Any]] ?? [] {
                    let state = member["state"] as? String ?? "?"
                    let last = member["last_check"] as? String ?? "-"
                    let at = member["last_check_at"] as? String ?? ""
                    print(pad(name, 14) + pad(member["member"] as? String ?? "?", 28) + pad(state, 10) + "\(last) \(at)")
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
            let response = try ControlClient.reporting {
                try ControlClient.call(["command": "farm-drain", "farm": farm, "member": member], target: target)
            }
            target.json ? ControlClient.printJSON(response) : print("\(farm) \(member): drained")
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
            let response = try ControlClient.reporting {
                try ControlClient.call(["command": "farm-undrain", "farm": farm, "member": member], target: target)
            }
            target.json ? ControlClient.printJSON(response) : print("\(farm) \(member): undrained")
        }
    }
}

/// One request/response on an instance's control socket.
enum ControlClient {
    static func call(_ request: [String: Any], target: FarmCommand.Target) throws -> [String: Any] {
        let path = "\(target.controlDirectory)/\(target.instance).sock"
        let response: [String: Any]
        do {
            response = try ControlConnection(path: path).call(request)
        } catch let failure as ControlConnection.Failure {
            throw ControlClientError(
                message: failure.notRunning
                    ? "instance '\(target.instance)' is not running (no control socket at \(path))" : failure.description
            )
        }
        if response["ok"] as? Bool != true {
            throw ControlClientError(message: response["error"] as? String ?? "the instance refused the request")
        }
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

    static func printJSON(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]) {
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

struct ControlClientError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
