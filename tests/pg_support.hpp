// A throw-away PostgreSQL cluster for the tests: initdb in a temporary
// directory, a free port on 127.0.0.1, password authentication (user
// gasched, password "secret"), stopped and removed at the end of the run even
// when a REQUIRE failed. PostgreSQL refuses to run as root: as root it runs
// as user postgres (runuser).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "held_port.hpp"

#ifndef GASCHED_PG_BIN
#  define GASCHED_PG_BIN "/usr/lib/postgresql/15/bin"
#endif

class pg_server {
public:
  static pg_server& get() {
    static pg_server server;  // destroyed at exit: stops the cluster
    return server;
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

  /// Runs SQL in database `db` (psql as the superuser gasched).
  void sql(const std::string& db, const std::string& statement) {
    std::ofstream{dir_ + "/cmd.sql"} << statement << "\n";
    run("psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " + std::to_string(port_)
        + " -U gasched -d " + db + " -f " + dir_ + "/cmd.sql");
  }

  ~pg_server() {
    if (started_)
      std::system(as_postgres(bin("pg_ctl") + " -D " + dir_ + "/data -m immediate -w stop "
                              "> /dev/null 2>&1")
                    .c_str());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

private:
  pg_server() {
    char name[] = "/tmp/gasched-pg-XXXXXX";
    dir_ = ::mkdtemp(name);
    if (::geteuid() == 0)
      std::system(("chown postgres " + dir_).c_str());
    std::ofstream{dir_ + "/pw"} << "secret\n";
    run(bin("initdb") + " -D " + dir_ + "/data -U gasched --pwfile=" + dir_
        + "/pw --auth-host=scram-sha-256 --auth-local=trust -E UTF8 > " + dir_
        + "/initdb.log 2>&1");
    {
      held_port free{false};
      port_ = free.port;
    }
    run(bin("pg_ctl") + " -D " + dir_ + "/data -l " + dir_ + "/server.log -w -o '-p "
        + std::to_string(port_) + " -k " + dir_
        + " -c listen_addresses=127.0.0.1 -c max_connections=200"
        // Files in its own folder, not /dev/shm: a container or chroot may
        // lack a /dev/shm the postgres user can write.
        + " -c dynamic_shared_memory_type=mmap' start > /dev/null");
    started_ = true;
    ::setenv("PGPASSWORD", "secret", 1);
  }

  static std::string bin(const std::string& name) {
    return std::string{GASCHED_PG_BIN} + "/" + name;
  }

  static std::string as_postgres(const std::string& cmd) {
    if (::geteuid() != 0)
      return cmd;
    return "runuser -u postgres -- sh -c \"" + cmd + "\"";
  }

  void run(const std::string& cmd) {
    auto full = cmd.rfind("psql", 0) == 0 ? cmd : as_postgres(cmd);
    INFO(full);
    REQUIRE(std::system(full.c_str()) == 0);
  }

  std::string dir_;
  uint16_t port_ = 0;
  bool started_ = false;
  int dbs_ = 0;
};
