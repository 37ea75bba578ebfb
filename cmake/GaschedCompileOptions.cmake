# Options shared by every target of this project (not exported to users).
add_library(gasched_compile_options INTERFACE)
target_compile_options(gasched_compile_options INTERFACE -Wall -Wextra)
if(GASCHED_SANITIZE)
  # GCC 12's -Wmaybe-uninitialized misfires on libstdc++'s <regex> (used by
  # CLI11) once sanitizers instrument it; the sanitizers check that at run time.
  target_compile_options(gasched_compile_options INTERFACE
    -fsanitize=${GASCHED_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all
    -Wno-maybe-uninitialized)
  target_link_options(gasched_compile_options INTERFACE -fsanitize=${GASCHED_SANITIZE})
endif()

# gasched_cold_sources(file ...): code that runs once per process or per user
# action (command lines, type registration, reports, JSON task files). Most of
# a Release build's time is GCC's code generation for CAF's and CLI11's
# templates, not parsing; -O1 cuts that by a third for the files using CLI11
# (24 s -> 15 s) and costs nothing measurable at run time (an A/B run of the
# benchmarks), while the scheduling paths keep full optimisation.
function(gasched_cold_sources)
  set_property(SOURCE ${ARGN} APPEND PROPERTY COMPILE_OPTIONS
               $<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:-O1>)
endfunction()

# Test programs' own code (test cases, fixtures, helper processes) at -O0 in
# every configuration: it spends its time waiting for processes and actors,
# not computing, and at -O3 it was half of a cold build's compile time (the
# CAF and Catch2 templates each test file instantiates; -O0 compiles a test
# file 1.6x faster: 13 s against 21 s for actor_tests.cpp). What the tests
# run, the library and the programs, keeps the build type's optimisation.
add_library(gasched_test_compile_options INTERFACE)
target_compile_options(gasched_test_compile_options INTERFACE
                       $<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:-O0>)
