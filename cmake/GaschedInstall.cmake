# How gasched's targets are installed: each file in the component of the
# Debian package that holds it (packaging/CMakeLists.txt), with a runtime path
# relative to where it lands, so that an installed tree runs from any prefix
# (cmake --install build --prefix DIR) without LD_LIBRARY_PATH.
#
#   runtime   the shared libraries                         libgasched<major.minor>
#   dev       headers, .so links, CMake package            libgasched-dev
#   programs  gasched-node, gasched-run, gasched-ctl, ...  gasched
#   service   gasched-node's systemd unit, /etc/default    gasched (package only)

# An installed program finds the libraries at $ORIGIN/../lib/<triplet> (the
# path from the binary directory to the library directory, whatever they are).
file(RELATIVE_PATH gasched_bin_to_lib ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
if(NOT DEFINED CMAKE_INSTALL_RPATH)
  set(CMAKE_INSTALL_RPATH "$ORIGIN/${gasched_bin_to_lib}")
endif()

# gasched_install_library(TARGET...): shared libraries into runtime (a library
# finds its siblings next to itself), their .so links and static archives
# into dev, and their imported targets (gasched::...) into the CMake package.
function(gasched_install_library)
  set_target_properties(${ARGN} PROPERTIES INSTALL_RPATH "$ORIGIN")
  install(TARGETS ${ARGN} EXPORT gaschedTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
endfunction()

# gasched_install_program(TARGET...): executables into programs.
function(gasched_install_program)
  install(TARGETS ${ARGN} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT programs)
endfunction()
