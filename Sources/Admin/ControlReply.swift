import Foundation

/// The control socket's answer to one `ControlRequest`: a JSON object on one line,
/// `{"ok": true, …}` with the request's figures beside `ok`, or `{"ok": false, "error": "…"}`.
///
/// The figures sit beside `ok` rather than under a key of their own: that is the wire format
/// older `edgesplit` commands read, so an older CLI and a newer server still talk. The reply
/// does not name its kind; the asker knows which request it sent (`decode(_:answering:)`).
public enum ControlReply: Encodable, Sendable, Equatable {
    /// `ping`: which instance answers, serving which generation of its configuration.
    case pong(instance: String, generation: Int)
    case stats(ProcessStats)
    case farms([FarmStatus])
    /// `reload`: the generation now serving.
    case reloaded(generation: Int)
    /// `farm-drain`, `farm-undrain`, `retire`: done, nothing to tell.
    case done
    /// Not done, and why.
    case refused(String)

    public var ok: Bool {
        if case .refused = self { return false }
        return true
    }

    enum CodingKeys: String, CodingKey {
        case ok, error, instance, generation, farms
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ok, forKey: .ok)
        switch self {
        case .pong(let instance, let generation):
            try c.encode(instance, forKey: .instance)
            try c.encode(generation, forKey: .generation)
        case .stats(let stats):
            // The stats' keys go into this same object, beside `ok`.
            try stats.encode(to: encoder)
        case .farms(let farms):
            try c.encode(farms, forKey: .farms)
        case .reloaded(let generation):
            try c.encode(generation, forKey: .generation)
        case .done:
            break
        case .refused(let error):
            try c.encode(error, forKey: .error)
        }
    }

    /// The reply to `request` in `data` (one line of the socket). Throws when `data` is not
    /// a JSON object of the expected shape.
    public static func decode(_ data: Data, answering request: ControlRequest) throws -> ControlReply {
        let decoder = JSONDecoder()
        let status = try decoder.decode(Status.self, from: data)
        guard status.ok else { return .refused(status.error ?? "the instance refused the request") }
        switch request {
        case .ping:
            let pong = try decoder.decode(Pong.self, from: data)
            return .pong(instance: pong.instance, generation: pong.generation)
        case .stats:
            return .stats(try decoder.decode(ProcessStats.self, from: data))
        case .farmStatus:
            return .farms(try decoder.decode(Farms.self, from: data).farms)
        case .reload:
            return .reloaded(generation: try decoder.decode(Pong.self, from: data).generation)
        case .farmDrain, .farmUndrain, .retire:
            return .done
        }
    }

    private struct Status: Decodable {
        var ok: Bool
        var error: String?
    }

    private struct Pong: Decodable {
        var instance: String = ""
        var generation: Int = 0

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            instance = try c.value(.instance, or: "")
            generation = try c.value(.generation, or: 0)
        }
    }

    private struct Farms: Decodable {
        var farms: [FarmStatus]
    }
}
