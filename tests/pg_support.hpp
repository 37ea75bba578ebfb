// The tests' throw-away PostgreSQL cluster (pg_throwaway.hpp), one per test
// program, stopped and removed at the end of the run even when a REQUIRE
// failed. A step that fails throws: Catch fails the test with its command.
#pragma once

#include "pg_throwaway.hpp"

class pg_server : public pg_throwaway {
public:
  static pg_server& get() {
    static pg_server server;  // destroyed at exit: stops the cluster
    return server;
  }

private:
  pg_server() = default;
};
