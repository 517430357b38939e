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
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ControlClientError(message: "cannot create a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw ControlClientError(message: "control socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let reason = errno == ENOENT || errno == ECONNREFUSED
                ? "instance '\(target.instance)' is not running (no control socket at \(path))"
                : errno == EACCES ? "permission denied on \(path) (run as root)" : String(cString: strerror(errno))
            throw ControlClientError(message: reason)
        }
        var data = try JSONSerialization.data(withJSONObject: request)
        data.append(0x0A)
        _ = data.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while !reply.contains(0x0A) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            reply.append(contentsOf: chunk[0..<n])
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(reply)), let response = object as? [String: Any] else {
            throw ControlClientError(message: "no answer from instance '\(target.instance)'")
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
            printError("edgesplit: error: \(error)")
            throw ExitCode.failure
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
