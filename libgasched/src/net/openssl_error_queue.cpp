// A workaround for CAF 0.17's OpenSSL module. OpenSSL keeps one error queue
// per thread, and SSL_get_error reports any error still in it as the failure
// of the call at hand. CAF does not empty the queue after a handshake that
// fails, so a stranger whose certificate is refused left an error behind on
// the middleman's thread, and the next read of a *member's* connection on
// that thread was taken for a failure: the member was disconnected
// (measured: about every other refused handshake dropped a joined node).
// OpenSSL's documentation asks callers to clear the queue before each I/O
// call; CAF does not, so gasched interposes the calls CAF makes and does it
// for them. Clearing before a call loses nothing: no caller can still be
// waiting to read an error from before its own next call.
//
// A second workaround rides on SSL_connect and SSL_accept: CAF 0.17 loses a
// socket descriptor whenever a handshake fails in its first step.
// session::try_connect (and try_accept) calls SSL_connect (SSL_accept) once
// on a fresh socket; when that call fails outright instead of asking to wait
// (the peer's answer was already there and refused our certificate, or the
// peer closed or reset the connection, as a proxy in front of a dead
// scheduler does), make_session returns null and CAF's middleman (doorman)
// drops the socket without closing it. A node joining a scheduler that is
// down lost one descriptor every few attempts (measured: 2-4 per scheduler
// kill in the soak). No one else holds that socket then, so gasched closes
// it, and only for calls made by those two functions of CAF's library.
//
// The same calls note why a handshake failed (net/handshake_failures.hpp):
// CAF reports a peer that closed the connection mid-handshake and one that
// refused the certificate alike, and the message should say which it was.
#include <dlfcn.h>
#include <unistd.h>

#include <cstring>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/handshake_failures.hpp"
#include "net/handshake_wait.hpp"

namespace {

template <class Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

// Whether `return_address` lies in the exported function named `symbol`.
bool called_from(const void* return_address, const char* symbol) {
  Dl_info info;
  return dladdr(return_address, &info) != 0 && info.dli_sname != nullptr
         && std::strcmp(info.dli_sname, symbol) == 0;
}

// After CAF's first handshake step on a fresh socket: closes the socket when
// CAF is about to drop it (the step neither succeeded nor asked to wait).
void close_if_dropped(SSL* ssl, int ret, const void* caller, const char* symbol) {
  if (ret == 1)
    return;
  auto err = SSL_get_error(ssl, ret);  // reads the error queue, leaves it for CAF
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
    return;  // CAF keeps the socket and finishes the handshake later
  if (!called_from(caller, symbol))
    return;
  if (auto fd = SSL_get_fd(ssl); fd >= 0)
    ::close(fd);  // the SSL object's socket BIO does not close it (BIO_NOCLOSE)
}

// Why a handshake step towards a peer failed, for the message that follows
// (CAF reports every failure alike). Reads the error queue, leaves it.
// Whether the handshake step asked to read, for the event loop
// (net/handshake_wait.cpp).
void note_step(SSL* ssl, int ret) {
  auto wants_read = ret != 1 && SSL_get_error(ssl, ret) == SSL_ERROR_WANT_READ;
  if (auto fd = SSL_get_fd(ssl); fd >= 0)
    gasched::detail::handshake_step(fd, wants_read);
}

void note_failure(SSL* ssl, int ret) {
  if (ret == 1)
    return;
  auto err = SSL_get_error(ssl, ret);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
    return;
  if (auto fd = SSL_get_fd(ssl); fd >= 0)
    gasched::detail::note_handshake_failure(fd, ssl, err, ERR_GET_REASON(ERR_peek_error()));
}

// With TLS 1.3 a client's handshake ends before the server checked its
// certificate: a refusal arrives as an alert on the first read.
void note_refusal(SSL* ssl, int ret) {
  if (SSL_get_error(ssl, ret) != SSL_ERROR_SSL)
    return;
  switch (ERR_GET_REASON(ERR_peek_error())) {
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      note_failure(ssl, ret);
      break;
    default:
      break;
  }
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = next<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  auto ret = real(ssl, buf, num);
  if (ret <= 0)
    note_refusal(ssl, ret);
  return ret;
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = next<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static auto real = next<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  auto ret = real(ssl);
  note_step(ssl, ret);
  close_if_dropped(ssl, ret, __builtin_return_address(0), "_ZN3caf7openssl7session10try_acceptEi");
  return ret;
}

int SSL_connect(SSL* ssl) {
  static auto real = next<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  if (auto fd = SSL_get_fd(ssl); fd >= 0)
    gasched::detail::note_handshake_peer(fd);
  auto ret = real(ssl);
  note_step(ssl, ret);
  note_failure(ssl, ret);
  close_if_dropped(ssl, ret, __builtin_return_address(0),
                   "_ZN3caf7openssl7session11try_connectEi");
  return ret;
}

} // extern "C"
