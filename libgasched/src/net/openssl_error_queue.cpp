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
#include <dlfcn.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

template <class Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = next<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = next<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static auto real = next<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

int SSL_connect(SSL* ssl) {
  static auto real = next<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

} // extern "C"
