// Internal: keeps CAF 0.17's event loop from spinning while a TLS handshake
// waits for the peer (see handshake_wait.cpp).
#pragma once

namespace gasched::detail {

/// Notes the outcome of a handshake step on socket `fd` (from the SSL_connect
/// and SSL_accept gasched interposes): whether it asked to read.
void handshake_step(int fd, bool wants_read);

} // namespace gasched::detail
