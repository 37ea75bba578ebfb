// A throw-away PostgreSQL cluster, for the tests and gasched-bench: initdb in
// a temporary directory, a free port on 127.0.0.1, password authentication
// (user gasched, password "secret"), stopped and removed by the destructor.
// PostgreSQL refuses to run as root: as root it runs as user postgres
// (runuser). A step that fails throws std::runtime_error naming its command.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#ifndef GASCHED_PG_BIN
#  define GASCHED_PG_BIN "/usr/lib/postgresql/15/bin"
#endif

class pg_throwaway {
public:
  /// Whether the server's programs are there (Debian's postgresql package).
  static bool available() {
    return ::access(bin("initdb").c_str(), X_OK) == 0
           && ::access(bin("pg_ctl").c_str(), X_OK) == 0;
  }

  static std::string bin(const std::string& name) {
    return std::string{GASCHED_PG_BIN} + "/" + name;
  }

  pg_throwaway() {
    char name[] = "/tmp/gasched-pg-XXXXXX";
    if (::mkdtemp(name) == nullptr)
      throw std::runtime_error("cannot make a temporary directory for PostgreSQL");
    dir_ = name;
    if (::geteuid() == 0)
      std::system(("chown postgres " + dir_).c_str());
    std::ofstream{dir_ + "/pw"} << "secret\n";
    run(bin("initdb") + " -D " + dir_ + "/data -U gasched --pwfile=" + dir_
        + "/pw --auth-host=scram-sha-256 --auth-local=trust -E UTF8 > " + dir_
        + "/initdb.log 2>&1");
    port_ = free_port();
    run(bin("pg_ctl") + " -D " + dir_ + "/data -l " + dir_ + "/server.log -w -o '-p "
        + std::to_string(port_) + " -k " + dir_
        + " -c listen_addresses=127.0.0.1 -c max_connections=200"
        // Files in its own folder, not /dev/shm: a container or chroot may
        // lack a /dev/shm the postgres user can write.
        + " -c dynamic_shared_memory_type=mmap' start > /dev/null");
    started_ = true;
    ::setenv("PGPASSWORD", "secret", 1);
  }

  pg_throwaway(const pg_throwaway&) = delete;
  pg_throwaway& operator=(const pg_throwaway&) = delete;

  ~pg_throwaway() {
    if (started_)
      std::system(as_postgres(bin("pg_ctl") + " -D " + dir_ + "/data -m immediate -w stop "
                              "> /dev/null 2>&1")
                    .c_str());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  /// A URL of a new, empty database.
  std::string fresh_db() {
    auto name = "t" + std::to_string(++dbs_);
    run("psql -q -h 127.0.0.1 -p " + std::to_string(port_) + " -U gasched -d postgres -c "
        "'CREATE DATABASE " + name + "'");
    return url(name);
  }

  std::string url(const std::string& db, const std::string& password = "secret") const {
    return "postgresql://gasched:" + password + "@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }

  uint16_t port() const {
    return port_;
  }

  /// Restarts the server as a crash would (pg_ctl restart -m immediate: every
  /// session ends at once, the server recovers from its log), waiting until
  /// it accepts connections again.
  void restart_immediate() {
    run(bin("pg_ctl") + " -D " + dir_ + "/data -l " + dir_ + "/server.log -m immediate -w "
        "restart > /dev/null");
  }

  /// Runs SQL in database `db` (psql as the superuser gasched).
  void sql(const std::string& db, const std::string& statement) {
    std::ofstream{dir_ + "/cmd.sql"} << statement << "\n";
    run("psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " + std::to_string(port_)
        + " -U gasched -d " + db + " -f " + dir_ + "/cmd.sql");
  }

private:
  static std::string as_postgres(const std::string& cmd) {
    if (::geteuid() != 0)
      return cmd;
    return "runuser -u postgres -- sh -c \"" + cmd + "\"";
  }

  // A loopback port nothing listens on now (bound to 0, then released).
  static uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    auto ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
              && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    if (fd >= 0)
      ::close(fd);
    if (!ok)
      throw std::runtime_error("cannot find a free port on 127.0.0.1 for PostgreSQL");
    return ntohs(addr.sin_port);
  }

  void run(const std::string& cmd) {
    auto full = cmd.rfind("psql", 0) == 0 ? cmd : as_postgres(cmd);
    if (std::system(full.c_str()) != 0)
      throw std::runtime_error("PostgreSQL: this failed: " + full);
  }

  std::string dir_;
  uint16_t port_ = 0;
  bool started_ = false;
  int dbs_ = 0;
};
