import Foundation

/// One request on an instance's control socket (`/run/edgesplit/<instance>.sock`): a JSON
/// object on one line, `{"command": "…"}`, with `farm` and `member` for the drain commands.
///
/// The server decodes each line once, here; a line that is not a request gets a reply that
/// says what is wrong (`ControlRequest.Malformed`) and the connection stays usable.
public enum ControlRequest: Codable, Sendable, Equatable {
    /// Instance and generation; also how a successor process finds its predecessor.
    case ping
    /// Everything `edgesplit stats` shows about the process (`ProcessStats`).
    case stats
    /// Every farm member's health (`edgesplit farm status`).
    case farmStatus
    /// Send no new clients to a member (`edgesplit farm drain`).
    case farmDrain(farm: String, member: String)
    case farmUndrain(farm: String, member: String)
    /// Re-read the configuration file (`edgesplit reload`).
    case reload
    /// A newer process of this instance accepts now: drain the connections and exit.
    case retire

    /// Why a line is not a request: the text of the error reply.
    public struct Malformed: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// The `command` names on the wire.
    public var command: String {
        switch self {
        case .ping: "ping"
        case .stats: "stats"
        case .farmStatus: "farm-status"
        case .farmDrain: "farm-drain"
        case .farmUndrain: "farm-undrain"
        case .reload: "reload"
        case .retire: "retire"
        }
    }

    enum CodingKeys: String, CodingKey {
        case command, farm, member
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let command = try c.decodeIfPresent(String.self, forKey: .command)
        func member() throws -> (farm: String, member: String) {
            guard let farm = try? c.decode(String.self, forKey: .farm), let member = try? c.decode(String.self, forKey: .member) else {
                throw Malformed(description: "\(command ?? "") needs \"farm\" and \"member\" (strings)")
            }
            return (farm, member)
        }
        switch command {
        case "ping": self = .ping
        case "stats": self = .stats
        case "farm-status": self = .farmStatus
        case "farm-drain": self = .farmDrain(farm: try member().farm, member: try member().member)
        case "farm-undrain": self = .farmUndrain(farm: try member().farm, member: try member().member)
        case "reload": self = .reload
        case "retire": self = .retire
        default: throw Malformed(description: "unknown command '\(command ?? "")'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(command, forKey: .command)
        switch self {
        case .farmDrain(let farm, let member), .farmUndrain(let farm, let member):
            try c.encode(farm, forKey: .farm)
            try c.encode(member, forKey: .member)
        case .ping, .stats, .farmStatus, .reload, .retire:
            break
        }
    }

    /// One line of the control socket as a request, or why it is none.
    public static func decode(line: some Sequence<UInt8>) -> Result<ControlRequest, Malformed> {
        do {
            return .success(try JSONDecoder().decode(ControlRequest.self, from: Data(line)))
        } catch let malformed as Malformed {
            return .failure(malformed)
        } catch {
            return .failure(Malformed(description: "expected one JSON object per line"))
        }
    }
}
