/// A listener group registered in the `groups` map.
public struct ListenerGroupInfo: Sendable, Equatable {
    public var address: String
    public var port: Int
    public var base: Int
}
