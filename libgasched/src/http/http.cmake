# The HTTP endpoint of gasched/http.hpp, part of libgasched. cpp-httplib is
# Debian's libcpp-httplib-dev: a shared library plus its header, found with
# pkg-config (it has no CMake config); its flags (OpenSSL, zlib, brotli
# support) must match the library's, which pkg-config gives.
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib>=0.11)
find_package(nlohmann_json 3.2 REQUIRED)

# The dashboard is edited as an HTML file and compiled in as a string.
set(http_dir ${CMAKE_CURRENT_SOURCE_DIR}/src/http)
file(READ ${http_dir}/dashboard.html GASCHED_DASHBOARD_HTML)
configure_file(${http_dir}/dashboard.cpp.in ${CMAKE_CURRENT_BINARY_DIR}/http/dashboard.cpp @ONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${http_dir}/dashboard.html)

set(http_sources src/http/server.cpp src/http/query.cpp src/http/json.cpp src/http/metrics.cpp
                 src/http/host_check.cpp ${CMAKE_CURRENT_BINARY_DIR}/http/dashboard.cpp)
target_sources(gasched PRIVATE ${http_sources})
# At most a few requests a second: no need for -O2's compile time.
gasched_cold_sources(${http_sources})
target_link_libraries(gasched PRIVATE $<BUILD_INTERFACE:PkgConfig::HTTPLIB>
                                      $<BUILD_INTERFACE:nlohmann_json::nlohmann_json>)
if(NOT BUILD_SHARED_LIBS)
  # A static libgasched leaves the link to its user.
  target_link_libraries(gasched INTERFACE $<INSTALL_INTERFACE:cpp-httplib>)
endif()
