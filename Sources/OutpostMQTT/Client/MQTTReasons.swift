import CMosquitto

#if canImport(Glibc)
import Glibc
#endif

/// Why a connection ended or was refused, in the operator's words: the broker's MQTT 5 reason code, libmosquitto's
/// own error, or the TLS library's verdict on a certificate, with what to do about the usual causes.
///
/// libmosquitto hands its disconnect callback either an MQTT 5 reason code from the broker's DISCONNECT (0x80 and
/// up; MQTT 5 §3.14.2.1) or one of its own error numbers (`MOSQ_ERR_*`, all below 0x80); `mosquitto_reason_string`
/// reads only the first kind, `mosquitto_strerror` only the second.
package enum MQTTReasons {
    /// MQTT 5 "Session taken over" (§3.14.2.1): another connection used our client id.
    package static let sessionTakenOver = 0x8E
    /// MQTT 5 "Packet too large".
    package static let packetTooLarge = 0x95

    /// A disconnect callback's `code`, for a client with `clientID`.
    package static func disconnect(code: Int32, clientID: String) -> String {
        guard code != 0 else { return "disconnected" }
        if code >= 0x80 {
            let text = String(cString: mosquitto_reason_string(code))
            return "the broker disconnected us: \(text) (MQTT 5 reason 0x\(String(code, radix: 16)))"
                + (hint(reason: Int(code), clientID: clientID).map { "; \($0)" } ?? "")
        }
        return libraryError(code)
    }

    /// One of libmosquitto's own error numbers, with what it means on the wire.
    package static func libraryError(_ code: Int32) -> String {
        let text = String(cString: mosquitto_strerror(code))
        switch code {
        case MOSQ_ERR_MALFORMED_UTF8.rawValue:
            return "\(text): the broker sent a topic or string that is not valid UTF-8, and libmosquitto closes the "
                + "connection as MQTT requires (§1.5.4); a publisher on the subscribed topics sends a bad topic name"
        case MOSQ_ERR_CONN_LOST.rawValue:
            return "\(text) (the broker or the network closed it without a reason code: MQTT 3.1.1 has none, and "
                + "brokers need not send one before closing)"
        case MOSQ_ERR_KEEPALIVE.rawValue:
            return "\(text): no answer from the broker within the keepalive"
        case MOSQ_ERR_PROTOCOL.rawValue, MOSQ_ERR_MALFORMED_PACKET.rawValue:
            return "\(text): the broker sent a packet MQTT does not allow"
        default:
            return text
        }
    }

    /// A CONNACK refusal: an MQTT 5 reason code, or a 3.1.1 return code (1 to 5, §3.2.2.3).
    package static func refusal(code: Int32, version: MQTTBroker.ProtocolVersion) -> String {
        let text = version == .v311 && (1...5).contains(code)
            ? String(cString: mosquitto_connack_string(code)) : String(cString: mosquitto_reason_string(code))
        return "the broker refused the connection: \(text)"
    }

    /// What to do about an MQTT 5 reason, where there is something to say.
    static func hint(reason: Int, clientID: String) -> String? {
        switch reason {
        case sessionTakenOver:
            return "another client connected with client id `\(clientID)`; two gateways share it (an SD card "
                + "image cloned with its host name and machine id?): give each its own [gateway] id or client_id"
        case packetTooLarge:
            return "a packet was over the broker's limit: set max_packet_size of this broker"
        case 0x87:
            return "check the credentials and the broker's ACL"
        case 0x9C, 0x9D:
            return "the broker asks clients to use another server"
        default:
            return nil
        }
    }

    /// The certificate verdict of the TLS connection `handle` is making, as OpenSSL words it ("certificate has
    /// expired", "unable to get local issuer certificate"), or nil. Asked while libmosquitto logs its TLS error,
    /// when the connection still exists; OpenSSL is reached through the process's symbols (libmosquitto links it),
    /// so Outpost does not link it itself.
    static func certificateVerdict(_ handle: OpaquePointer?) -> String? {
        guard let ssl = mosquitto_ssl_get(handle), let functions = OpenSSLVerdict.functions else { return nil }
        let result = functions.verifyResult(ssl)
        guard result != 0, let text = functions.errorString(result) else { return nil }
        return String(cString: text)
    }
}

/// `SSL_get_verify_result` and `X509_verify_cert_error_string`, looked up once in the process.
private enum OpenSSLVerdict {
    struct Functions: @unchecked Sendable {
        // `@unchecked Sendable`: two C function pointers, immutable and safe to call from any thread.
        let verifyResult: @convention(c) (UnsafeMutableRawPointer?) -> Int
        let errorString: @convention(c) (Int) -> UnsafePointer<CChar>?
    }

    static let functions: Functions? = {
        // RTLD_DEFAULT: every library the process has loaded, libssl among them once libmosquitto is.
        let everywhere = UnsafeMutableRawPointer(bitPattern: 0)
        guard let verify = dlsym(everywhere, "SSL_get_verify_result"),
            let describe = dlsym(everywhere, "X509_verify_cert_error_string")
        else { return nil }
        return Functions(
            verifyResult: unsafeBitCast(verify, to: (@convention(c) (UnsafeMutableRawPointer?) -> Int).self),
            errorString: unsafeBitCast(describe, to: (@convention(c) (Int) -> UnsafePointer<CChar>?).self))
    }()
}
