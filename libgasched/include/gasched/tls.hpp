// Mutual TLS between the processes of a cluster: what init() takes.
#pragma once

#include <string>

namespace gasched {

/// Mutual TLS for every connection of a process: it accepts and connects only
/// to peers holding a certificate signed by `ca_file`, and shows them its own
/// `cert_file`. Every process of a cluster must use it, or none. All three
/// files are needed: CAF would otherwise fall back to anonymous TLS, which
/// encrypts but authenticates nobody. The peer's name is not checked, so use
/// a CA made for this cluster only (gasched-certs makes one).
struct tls_options {
  std::string ca_file;    ///< PEM: the cluster's CA certificate
  std::string cert_file;  ///< PEM: this process's certificate, signed by the CA
  std::string key_file;   ///< PEM: its private key
  std::string passphrase; ///< of the key, if it has one

  /// DIR/ca.pem, DIR/cert.pem and DIR/key.pem, as gasched-certs writes them.
  static tls_options from_dir(const std::string& dir);

  bool enabled() const noexcept {
    return !ca_file.empty() || !cert_file.empty() || !key_file.empty();
  }
};

} // namespace gasched
