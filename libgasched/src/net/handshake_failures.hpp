// Internal: why this process's last TLS handshake towards a port failed, as
// OpenSSL saw it. CAF reports every failed handshake alike (cannot connect,
// or disconnected during the handshake); the reason lives in OpenSSL's error
// queue for a moment, where gasched's interposed SSL calls read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gasched::detail {

enum class handshake_failure {
  closed,        ///< the peer closed or reset the connection before the handshake ended
  not_our_ca,    ///< the peer's certificate is not of this process's CA
  refused_ours,  ///< the peer refused this process's certificate
  plain_text,    ///< the peer does not speak TLS
  other,         ///< anything else OpenSSL refused
};

/// Notes whom socket `fd` is connected to, before a handshake step on it:
/// once the peer reset the connection, the socket no longer says.
void note_handshake_peer(int fd);

/// Notes a failed handshake step on socket `fd` (called from the SSL calls
/// gasched interposes) of `connection` (its SSL object): only its first
/// failure counts. `ssl_error` is SSL_get_error's, `reason` the first queued
/// error's reason code (0 when none).
void note_handshake_failure(int fd, const void* connection, int ssl_error, int reason);

/// The failure noted last, in the last 10 s, for a connection to `port`.
std::optional<handshake_failure> recent_handshake_failure(uint16_t port);

} // namespace gasched::detail
