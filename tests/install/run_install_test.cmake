# Installs gasched into a fresh prefix, runs each installed program from there
# (no LD_LIBRARY_PATH), then configures, builds and runs a consumer project
# that finds it with find_package(gasched CONFIG REQUIRED).
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

# Where this build installs to, relative to the prefix (lib/<triplet> on Debian).
load_cache("${BINARY_DIR}" READ_WITH_PREFIX build_ CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_BINDIR)
set(libdir "${build_CMAKE_INSTALL_LIBDIR}")
set(bindir "${build_CMAKE_INSTALL_BINDIR}")

run(${CMAKE_COMMAND} --install "${BINARY_DIR}" --prefix "${prefix}")
foreach(installed include/gasched/gasched.hpp ${libdir}/cmake/gasched/gaschedConfig.cmake
                  ${libdir}/cmake/gasched/FindCAF.cmake ${bindir}/gasched-node ${bindir}/gasched-run
                  ${bindir}/gasched-ctl ${bindir}/gasched-certs)
  if(NOT EXISTS "${prefix}/${installed}")
    message(FATAL_ERROR "not installed: ${installed}")
  endif()
endforeach()

# Each installed program starts from the prefix with no LD_LIBRARY_PATH: its
# runtime path ($ORIGIN-relative) finds the prefix's libgasched, not the
# build tree's.
file(REAL_PATH "${prefix}/${libdir}/libgasched.so" installed_lib)
set(program_env --unset=LD_LIBRARY_PATH)
if(SANITIZE)
  # As for every program the tests start (lsan_caf.supp says why).
  list(APPEND program_env
       "LSAN_OPTIONS=suppressions=${SOURCE_DIR}/tests/lsan_caf.supp:print_suppressions=0")
endif()
foreach(program gasched-node gasched-run gasched-ctl)
  set(path "${prefix}/${bindir}/${program}")
  run(${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH ldd "${path}")
  if(NOT last_output MATCHES "libgasched\\.so\\.[0-9.]+ => (/[^ ]+)")
    message(FATAL_ERROR "${program} finds no libgasched:\n${last_output}")
  endif()
  file(REAL_PATH "${CMAKE_MATCH_1}" loaded_lib)
  if(NOT loaded_lib STREQUAL installed_lib)
    message(FATAL_ERROR "installed ${program} loads ${loaded_lib}, not ${installed_lib}")
  endif()
  run(${CMAKE_COMMAND} -E env ${program_env} "${path}" --help)
  if(NOT last_output MATCHES "Usage|usage")
    message(FATAL_ERROR "installed ${program} --help printed:\n${last_output}")
  endif()
endforeach()

set(flags "")
if(SANITIZE)
  set(flags "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE}")
endif()
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install/consumer" -B "${WORK_DIR}/build"
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release ${flags})
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer")
if(NOT last_output MATCHES "25 results, 25 ok, sum 325")
  message(FATAL_ERROR "unexpected consumer output:\n${last_output}")
endif()
message(STATUS "consumer said: ${last_output}")
