/// A client connection as its worker sees it: counted while open, drained on reload or
/// shutdown, aborted at the drain deadline.
package protocol ClientConnection: AnyObject {
    func drain(gentle: Bool)
    func abort()
}
