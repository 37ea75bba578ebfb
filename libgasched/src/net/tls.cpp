// TLS settings: the files are checked before CAF sees them, because CAF 0.17
// aborts the process on some mistakes (a key without a certificate) and
// silently falls back to anonymous TLS on others (no files at all).
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdio>
#include <memory>

#include <caf/actor_system_config.hpp>
#include <caf/openssl/manager.hpp>

#include "gasched/errc.hpp"
#include "gasched/tls.hpp"
#include "net/tls.hpp"

namespace gasched {

tls_options tls_options::from_dir(const std::string& dir) {
  auto in = [&](const char* file) { return dir.empty() ? std::string{} : dir + "/" + file; };
  return tls_options{in("ca.pem"), in("cert.pem"), in("key.pem"), {}};
}

namespace detail {

namespace {

caf::error tls_error(const std::string& what) {
  return make_error(errc::tls_error, what);
}

std::string openssl_reason() {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0)
    return "";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return std::string{": "} + text;
}

using file_ptr = std::unique_ptr<FILE, int (*)(FILE*)>;
using x509_ptr = std::unique_ptr<X509, void (*)(X509*)>;

caf::expected<x509_ptr> read_certificate(const std::string& role, const std::string& path) {
  if (path.empty())
    return tls_error("TLS needs a " + role + " file");
  file_ptr f{std::fopen(path.c_str(), "r"), &std::fclose};
  if (!f)
    return tls_error("cannot read the " + role + " " + path);
  x509_ptr cert{PEM_read_X509(f.get(), nullptr, nullptr, nullptr), &X509_free};
  if (!cert)
    return tls_error(path + " is not a PEM certificate" + openssl_reason());
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0)
    return tls_error("the " + role + " " + path + " has expired");
  if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) > 0)
    return tls_error("the " + role + " " + path + " is not valid yet");
  return cert;
}

// The certificate must be signed by the CA: otherwise every peer refuses us
// during the handshake, with no word of why.
caf::error check_signed(X509* ca, X509* cert, const tls_options& tls) {
  std::unique_ptr<X509_STORE, void (*)(X509_STORE*)> store{X509_STORE_new(), &X509_STORE_free};
  std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> ctx{X509_STORE_CTX_new(),
                                                                 &X509_STORE_CTX_free};
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca) != 1
      || X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1)
    return tls_error("cannot check " + tls.cert_file + openssl_reason());
  if (X509_verify_cert(ctx.get()) != 1)
    return tls_error(tls.cert_file + " is not signed by the CA " + tls.ca_file + ": "
                     + X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  return caf::none;
}

caf::error check_key(const tls_options& tls) {
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_method()), &SSL_CTX_free};
  if (!ctx)
    return tls_error("cannot create a TLS context" + openssl_reason());
  if (SSL_CTX_use_certificate_file(ctx.get(), tls.cert_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return tls_error("cannot use the certificate " + tls.cert_file + openssl_reason());
  if (tls.key_file.empty())
    return tls_error("TLS needs a key file");
  file_ptr f{std::fopen(tls.key_file.c_str(), "r"), &std::fclose};
  if (!f)
    return tls_error("cannot read the key " + tls.key_file);
  auto pass = const_cast<char*>(tls.passphrase.c_str());
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key{
    PEM_read_PrivateKey(f.get(), nullptr, nullptr, tls.passphrase.empty() ? nullptr : pass),
    &EVP_PKEY_free};
  if (!key)
    return tls_error(tls.key_file + " is not a PEM private key (or its passphrase is wrong)"
                     + openssl_reason());
  ERR_clear_error();
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1
      || SSL_CTX_check_private_key(ctx.get()) != 1)
    return tls_error("the key " + tls.key_file + " does not match the certificate "
                     + tls.cert_file);
  return caf::none;
}

} // namespace

caf::error check_tls(const tls_options& tls) {
  auto ca = read_certificate("CA certificate", tls.ca_file);
  if (!ca)
    return std::move(ca.error());
  auto cert = read_certificate("certificate", tls.cert_file);
  if (!cert)
    return std::move(cert.error());
  if (auto err = check_key(tls))
    return err;
  return check_signed(ca->get(), cert->get(), tls);
}

caf::error load_tls(caf::actor_system_config& cfg, const tls_options& tls) {
  if (auto err = check_tls(tls))
    return err;
  cfg.load<caf::openssl::manager>();
  cfg.set("openssl.certificate", tls.cert_file);
  cfg.set("openssl.key", tls.key_file);
  cfg.set("openssl.cafile", tls.ca_file);
  if (!tls.passphrase.empty())
    cfg.set("openssl.passphrase", tls.passphrase);
  return caf::none;
}

} // namespace detail
} // namespace gasched
