/// Problems loading or running the SDXL VAE or TAESDXL: each names the folder or file and the offending key or value.
public enum VAEError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `config.json` is missing, malformed, or holds a value this autoencoder cannot run.
    case invalidConfig(path: String, message: String)
    /// The weights do not match the configuration (a missing tensor, a wrong shape, an unsupported dtype).
    case invalidWeights(path: String, message: String)
    /// An image or latent batch of the wrong shape or range.
    case invalidInput(message: String)

    public var description: String {
        switch self {
        case .invalidConfig(let path, let message), .invalidWeights(let path, let message):
            return "\(path): \(message)"
        case .invalidInput(let message):
            return message
        }
    }
}
